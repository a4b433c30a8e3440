//! The web console in a real headless Firefox (Debian's firefox-esr, through
//! geckodriver): sign-in, a bucket, a multipart upload with its progress, a version
//! restored; and a video review in Firefox whose rectangle a Chromium reviewer sees
//! live, so the two browsers are checked against each other.

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::browser::{artefacts, Browser};
use cairn_tests::review::{frame, open, studio};
use cairn_tests::{random_bytes, TestNode};
use fantoccini::key::Key;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_firefox_too() {
    let node = TestNode::start();
    node.wait_ready(T).await;
    let ep = node.endpoint().to_string();
    let s3 = node.client();
    let work = tempfile::tempdir().unwrap();
    let ff = Browser::firefox(work.path()).await;
    let shots = artefacts();

    ff.client.goto(&format!("{ep}/")).await.unwrap();
    ff.find("#signin").await;
    assert!(ff.client.current_url().await.unwrap().path().starts_with("/console/"));
    ff.sign_in(node.access_key(), "not-the-secret").await;
    ff.until(
        "the sign-in error",
        "document.getElementById('signin-error').textContent.includes('secret key is wrong')",
        T,
    )
    .await;
    ff.sign_in(node.access_key(), node.secret_key()).await;
    ff.until(
        "the bucket list",
        "document.querySelector('h1') && document.querySelector('h1').textContent === 'Buckets'",
        T,
    )
    .await;

    // A bucket, versioned; a 20 MiB file in three parts with a moving progress bar.
    ff.fill("#new-bucket", "fox").await;
    ff.click("form.inline button[type=submit]").await;
    ff.until("the bucket's page", "location.hash === '#/b/fox/' && document.getElementById('versioning')", T).await;
    ff.until("the view", "document.body.dataset.busy === '0'", T).await;
    ff.click("#versioning").await;
    ff.until("versioning on", "document.body.textContent.includes('Versioning: Enabled')", T).await;
    let data = random_bytes(5, 20 << 20);
    let path = work.path().join("clip.bin");
    std::fs::write(&path, &data).unwrap();
    ff.eval(
        "(() => { window.__seen = []; new MutationObserver(() => { \
           for (const p of document.querySelectorAll('.uploads .pct')) window.__seen.push(p.textContent); \
         }).observe(document.getElementById('main'), { subtree: true, childList: true, characterData: true }); return true; })()",
    )
    .await;
    ff.find("#upload-files").await.send_keys(&path.to_string_lossy()).await.unwrap();
    ff.until("the upload's end", "document.querySelector('.uploads li.done') !== null", Duration::from_secs(120)).await;
    let seen: Vec<String> = serde_json::from_value(ff.eval("window.__seen").await).unwrap();
    assert!(
        seen.iter().any(|p| p.ends_with('%') && p != "0%" && p != "100%"),
        "no progress between 0 and 100%: {seen:?}"
    );
    let head = s3.head_object().bucket("fox").key("clip.bin").send().await.unwrap();
    assert!(head.e_tag().unwrap().ends_with("-3\""), "{:?}", head.e_tag());
    let got = s3.get_object().bucket("fox").key("clip.bin").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == data);
    ff.screenshot(&shots, "firefox-objects").await;

    // A second version through the SDK; the first restored in Firefox.
    s3.put_object().bucket("fox").key("clip.bin").body(ByteStream::from_static(b"short")).send().await.unwrap();
    ff.eval("(location.hash = '#/o/fox/clip.bin', true)").await;
    ff.until("two versions", "document.querySelectorAll('tr[data-version]').length === 2", T).await;
    ff.until("the view", "document.body.dataset.busy === '0'", T).await;
    ff.click("button.restore").await;
    ff.until("three versions", "document.querySelectorAll('tr[data-version]').length === 3", T).await;
    let restored = s3.get_object().bucket("fox").key("clip.bin").send().await.unwrap();
    assert!(restored.body.collect().await.unwrap().into_bytes() == data);

    // Review: Firefox draws, Chromium sees it.
    let studio = studio(&ep).await;
    ff.click("#signout").await;
    ff.find("#signin").await;
    let chromium = Browser::start(work.path()).await;
    open(&ff, &ep, &studio.video, &studio.editor).await;
    open(&chromium, &ep, &studio.video, &studio.reviewer).await;
    ff.fill("#jump", "00:00:04:00").await;
    ff.click("#jump-go").await;
    assert_eq!(frame(&ff).await, 100);
    ff.until("the seek", "!document.querySelector('.review video').seeking", T).await;
    let t = ff.eval("document.querySelector('.review video').currentTime").await.as_f64().unwrap();
    assert!((4.0..4.04).contains(&t), "frame 100 shows from 4.00 s to 4.04 s, Firefox is at {t}");
    ff.find(".player").await.send_keys(&Key::Right.to_string()).await.unwrap();
    assert_eq!(frame(&ff).await, 101);
    ff.find(".player").await.send_keys(&Key::Left.to_string()).await.unwrap();
    assert_eq!(frame(&ff).await, 100);
    ff.click("button[data-tool=rect]").await;
    ff.drag(".overlay", &[(-60.0, -40.0), (50.0, 30.0)]).await;
    ff.until("the saved rectangle", "document.getElementById('status').textContent.startsWith('Annotation saved')", T)
        .await;
    let note = ff.eval("document.querySelector('#notes li').dataset.id").await.as_str().unwrap().to_string();
    chromium
        .until(
            "the rectangle in Chromium",
            &format!("document.querySelector('#notes li[data-id=\"{note}\"]') !== null"),
            T,
        )
        .await;
    chromium
        .until("Firefox's playhead", "document.querySelector('.timeline .other[data-frame=\"100\"]') !== null", T)
        .await;
    ff.screenshot(&shots, "firefox-review").await;
    let (status, a) = cairn_tests::v1_json(
        &ep,
        (&studio.editor.0, &studio.editor.1),
        "GET",
        &format!("assets/{}/versions/1/annotations/{note}", studio.asset),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!((a["kind"].as_str(), a["frame"].as_u64()), (Some("rect"), Some(100)));
    assert!(a["geometry"]["w"].as_f64().unwrap() > 0.05, "{a}");
    ff.close().await;
    chromium.close().await;
}
