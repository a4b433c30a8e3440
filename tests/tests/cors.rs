//! CORS end to end: Put/Get/DeleteBucketCors validated as AWS does; preflights
//! answered from the bucket's rules without credentials, the same 403 whether the
//! bucket lacks rules or does not exist; `Access-Control-*` headers on actual answers
//! (errors too) to an allowed origin, none to another. Then a real headless Chromium
//! on a page served from another origin uploads with XMLHttpRequest through a
//! presigned URL: it succeeds when a rule allows the page's origin and fails when
//! none does.

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use aws_sdk_s3::Client;
use cairn_tests::*;
use std::io::{Read, Write};
use std::time::Duration;

fn cors_rule(origins: &[&str], methods: &[&str]) -> aws_sdk_s3::types::builders::CorsRuleBuilder {
    let mut b = CorsRule::builder();
    for o in origins {
        b = b.allowed_origins(*o);
    }
    for m in methods {
        b = b.allowed_methods(*m);
    }
    b
}

async fn put_cors(c: &Client, bucket: &str, rules: Vec<CorsRule>) -> Result<(), ErrInfo> {
    let config = CorsConfiguration::builder().set_cors_rules(Some(rules)).build().unwrap();
    match c.put_bucket_cors().bucket(bucket).cors_configuration(config).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(ErrInfo::from_sdk(&e)),
    }
}

async fn preflight(
    node: &TestNode,
    path: &str,
    origin: Option<&str>,
    method: &str,
    headers: Option<&str>,
) -> reqwest::Response {
    let mut r = raw_http()
        .request(reqwest::Method::OPTIONS, format!("{}{path}", node.endpoint()))
        .header("Access-Control-Request-Method", method);
    if let Some(o) = origin {
        r = r.header("Origin", o);
    }
    if let Some(h) = headers {
        r = r.header("Access-Control-Request-Headers", h);
    }
    r.send().await.unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

const APP: &str = "http://app.example.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_answer_preflights_and_decorate_answers() {
    let node = TestNode::start();
    let c = node.client();
    c.create_bucket().bucket("web").send().await.unwrap();
    let r = c.get_bucket_cors().bucket("web").send().await;
    assert_s3_err("no rules yet", r, 404, "NoSuchCORSConfiguration");

    let bad = vec![cors_rule(&[APP], &["PATCH"]).build().unwrap()];
    let e = put_cors(&c, "web", bad).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(400), Some("InvalidRequest")), "{e:?}");
    let bad = vec![cors_rule(&["http://*.*.test"], &["GET"]).build().unwrap()];
    let e = put_cors(&c, "web", bad).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(400), Some("InvalidRequest")), "two wildcards: {e:?}");

    let rules = vec![
        cors_rule(&[APP], &["PUT", "GET"])
            .allowed_headers("Content-*")
            .allowed_headers("x-amz-*")
            .expose_headers("ETag")
            .max_age_seconds(600)
            .id("app")
            .build()
            .unwrap(),
        cors_rule(&["*"], &["GET"]).build().unwrap(),
    ];
    put_cors(&c, "web", rules).await.unwrap();
    let got = c.get_bucket_cors().bucket("web").send().await.unwrap();
    let got = got.cors_rules();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].id(), Some("app"));
    assert_eq!(got[0].allowed_methods(), ["PUT", "GET"]);
    assert_eq!(got[0].expose_headers(), ["ETag"]);
    assert_eq!(got[0].max_age_seconds(), Some(600));

    // An allowed preflight: no credentials, 200 and the rule's headers.
    let r = preflight(&node, "/web/photo.jpg", Some(APP), "PUT", Some("content-type, x-amz-date")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(APP));
    assert_eq!(header(&r, "access-control-allow-methods").as_deref(), Some("PUT, GET"));
    assert_eq!(header(&r, "access-control-allow-headers").as_deref(), Some("content-type, x-amz-date"));
    assert_eq!(header(&r, "access-control-expose-headers").as_deref(), Some("ETag"));
    assert_eq!(header(&r, "access-control-max-age").as_deref(), Some("600"));
    assert_eq!(header(&r, "access-control-allow-credentials").as_deref(), Some("true"));
    // Any origin may GET, and is answered `*`.
    let r = preflight(&node, "/web/photo.jpg", Some("https://elsewhere.test"), "GET", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some("*"));

    // Refused: another origin's PUT, a header no rule allows, no Origin at all.
    let r = preflight(&node, "/web/photo.jpg", Some("https://elsewhere.test"), "PUT", None).await;
    assert_eq!(r.status(), 403);
    assert!(header(&r, "access-control-allow-origin").is_none());
    let refused_body = r.text().await.unwrap();
    assert_eq!(xml_error_code(&refused_body).as_deref(), Some("AccessForbidden"), "{refused_body}");
    let r = preflight(&node, "/web/photo.jpg", Some(APP), "PUT", Some("authorization")).await;
    assert_eq!(r.status(), 403);
    let r = preflight(&node, "/web/photo.jpg", None, "PUT", None).await;
    assert_eq!(r.status(), 400);
    // A bucket without rules and one that does not exist answer alike.
    c.create_bucket().bucket("plain").send().await.unwrap();
    let a = preflight(&node, "/plain/x", Some(APP), "GET", None).await;
    let b = preflight(&node, "/nosuchbucket/x", Some(APP), "GET", None).await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (403, 403));
    let (a, b) = (xml_error_code(&a.text().await.unwrap()), xml_error_code(&b.text().await.unwrap()));
    assert_eq!(a, b, "a preflight does not tell whether a bucket exists");

    // Actual answers carry the headers for an allowed origin, errors too; none otherwise.
    c.put_object().bucket("web").key("photo.jpg").body(b"jpeg".to_vec().into()).send().await.unwrap();
    let presigned = |key: &str| {
        let c = c.clone();
        let key = key.to_string();
        async move {
            let cfg = PresigningConfig::expires_in(Duration::from_secs(600)).unwrap();
            c.get_object().bucket("web").key(key).presigned(cfg).await.unwrap().uri().to_string()
        }
    };
    let url = presigned("photo.jpg").await;
    let r = raw_http().get(&url).header("Origin", APP).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(APP));
    assert_eq!(header(&r, "access-control-expose-headers").as_deref(), Some("ETag"));
    let r = raw_http().get(presigned("missing").await).header("Origin", APP).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(header(&r, "access-control-allow-origin").as_deref(), Some(APP), "an error answer too");
    let r = raw_http().get(&url).send().await.unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none(), "no Origin, no CORS headers");
    let r = raw_http().delete(&url).header("Origin", APP).send().await.unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none(), "DELETE is not allowed to {APP}");

    let del = c.delete_bucket_cors().bucket("web").send().await;
    assert!(del.is_ok(), "{del:?}");
    let r = preflight(&node, "/web/photo.jpg", Some(APP), "GET", None).await;
    assert_eq!(r.status(), 403, "no rules after DeleteBucketCors");
}

/// Serves `html` to every request on a port of its own (another origin than the node's).
fn serve_page(html: String) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut s) = stream else { continue };
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                html.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(html.as_bytes());
        }
    });
    port
}

/// Loads `url` in headless Chromium and answers the page's DOM once its scripts ran.
fn chromium_dom(url: &str) -> String {
    let bin = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
        .expect("Chromium is needed for this test (scripts/test.sh installs the Debian package chromium)");
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=15000", "--dump-dom", url])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn page(put_url: &str) -> String {
    format!(
        r#"<!doctype html><html><body data-result="pending"><script>
const r = new XMLHttpRequest();
r.open("PUT", {put_url:?});
r.setRequestHeader("Content-Type", "text/plain");
r.onload = () => document.body.setAttribute("data-result", "status=" + r.status);
r.onerror = () => document.body.setAttribute("data-result", "blocked");
r.send("uploaded by a browser");
</script></body></html>"#
    )
}

fn result(dom: &str) -> String {
    let at =
        dom.find("data-result=\"").map(|i| i + "data-result=\"".len()).unwrap_or_else(|| panic!("no result in {dom}"));
    dom[at..].split('"').next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_uploads_from_another_origin_only_when_a_rule_allows_it() {
    let node = TestNode::start();
    let c = node.client();
    c.create_bucket().bucket("uploads").send().await.unwrap();
    let presigned_put = |key: &str| {
        let c = c.clone();
        let key = key.to_string();
        async move {
            let cfg = PresigningConfig::expires_in(Duration::from_secs(600)).unwrap();
            c.put_object().bucket("uploads").key(key).presigned(cfg).await.unwrap().uri().to_string()
        }
    };

    // No rule for the page's origin: the preflight is refused, the upload never sent.
    let port = serve_page(page(&presigned_put("refused.txt").await));
    let origin = format!("http://127.0.0.1:{port}");
    put_cors(&c, "uploads", vec![cors_rule(&["http://other.test"], &["PUT"]).allowed_headers("*").build().unwrap()])
        .await
        .unwrap();
    let dom = chromium_dom(&format!("{origin}/"));
    assert_eq!(result(&dom), "blocked", "{dom}");
    assert_status_err("nothing uploaded", c.head_object().bucket("uploads").key("refused.txt").send().await, 404);

    // A rule for the page's origin: the browser's preflight passes and the PUT lands.
    let port = serve_page(page(&presigned_put("allowed.txt").await));
    let origin = format!("http://127.0.0.1:{port}");
    let rule = cors_rule(&[origin.as_str()], &["PUT", "GET"]).allowed_headers("*").build().unwrap();
    put_cors(&c, "uploads", vec![rule]).await.unwrap();
    let dom = chromium_dom(&format!("{origin}/"));
    assert_eq!(result(&dom), "status=200", "{dom}");
    let got = c.get_object().bucket("uploads").key("allowed.txt").send().await.unwrap();
    assert_eq!(read_body(got.body).await, b"uploaded by a browser");
}
