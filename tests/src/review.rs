//! What the console's review tests share: a studio tenant with an editor and a
//! reviewer key, the fixture video (`tests/fixtures/review.webm`, 25 fps, 250
//! frames, 320x180 VP8) registered as a video asset, and opening its review in a
//! browser.

use crate::browser::Browser;
use crate::cluster::cli_json;
use crate::{creds_of, v1_json, ClientBuilder};
use serde_json::json;
use std::time::Duration;

pub type Creds = (String, String);

pub struct Studio {
    pub editor: Creds,
    pub reviewer: Creds,
    /// `ASSET/1`: the review's address after `#/review/`.
    pub video: String,
    pub asset: String,
}

/// Sets the studio up through `endpoint` (root keys for the tenant and keys).
pub async fn studio(endpoint: &str) -> Studio {
    cli_json(endpoint, &["tenant", "create", "Studio", "--id", "studio"]);
    let key = |name: &str| creds_of(&cli_json(endpoint, &["key", "create", "--tenant", "studio", "--name", name]));
    let (editor, reviewer) = (key("editor"), key("reviewer"));
    let s3 = ClientBuilder::new(endpoint).credentials(&editor.0, &editor.1).build();
    s3.create_bucket().bucket("dailies").send().await.unwrap();
    let webm = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/review.webm")).unwrap();
    let put = s3.put_object().bucket("dailies").key("reel1.webm").content_type("video/webm").body(webm.into());
    put.send().await.unwrap();
    // The studio's reviewers read the dailies (a bucket policy, as a studio would set it).
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": [reviewer.0]}, "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::dailies/*"}]});
    s3.put_bucket_policy().bucket("dailies").policy(policy.to_string()).send().await.unwrap();
    let body = json!({"name": "Reel 1", "media_type": "video",
                      "meta": {"frame_rate": "25", "duration_ms": 10000, "width": 320, "height": 180},
                      "version": {"object": {"bucket": "dailies", "key": "reel1.webm"}}});
    let (status, asset) = v1_json(endpoint, (&editor.0, &editor.1), "POST", "assets", body).await;
    assert_eq!(status, 201, "{asset}");
    let asset = asset["id"].as_str().unwrap().to_string();
    Studio { editor, reviewer, video: format!("{asset}/1"), asset }
}

/// Opens the review of `video` on `endpoint`, signs in as `who`, and waits for the
/// picture and the live stream.
pub async fn open(b: &Browser, endpoint: &str, video: &str, who: &Creds) {
    let t = Duration::from_secs(30);
    b.client.goto(&format!("{endpoint}/console/#/review/{video}")).await.unwrap();
    b.sign_in(&who.0, &who.1).await;
    let ready = "document.querySelector('.review video') && document.querySelector('.review video').readyState >= 1";
    b.until("the video", ready, t).await;
    b.until("the live stream", "document.getElementById('live').textContent === 'live'", t).await;
}

/// The frame the page says it shows.
pub async fn frame(b: &Browser) -> u64 {
    b.eval("Number(document.getElementById('frame').textContent)").await.as_u64().unwrap()
}
