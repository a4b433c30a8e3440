//! The web console in a real headless Chromium against a real node: the page signs
//! its own requests (SigV4 in WebCrypto) and uses the S3 and `/cairn/` APIs. Every
//! check is made twice where it can be: on the page, and through the SDK or on disk.
//! Screenshots of each screen go to `target/console-screenshots/` (docs/console.md).

use aws_sdk_s3::primitives::ByteStream;
use cairn_tests::browser::{artefacts, Browser};
use cairn_tests::{random_bytes, TestNode};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// Goes to a view of the signed-in page (no reload: the session stays) and waits
/// for it to be built.
async fn visit(b: &Browser, hash: &str) {
    b.eval(&format!("(location.hash = {hash:?}, true)")).await;
    let shown = format!("document.getElementById('main').dataset.view === {hash:?}");
    b.until(hash, &shown, T).await;
    settled(b).await;
}

/// Chooses `file` in the file picker and waits for its upload to finish.
async fn upload_through_picker(b: &Browser, file: &std::path::Path) {
    b.find("#upload-files").await.send_keys(&file.to_string_lossy()).await.unwrap();
    let done = "[...document.querySelectorAll('.uploads li')].some(l => l.classList.contains('done'))";
    b.until("the upload's end", done, Duration::from_secs(180)).await;
}

/// Clicks `css` and waits for the view it re-renders to replace the one shown.
async fn click_and_rerender(b: &Browser, css: &str) {
    b.eval("(document.querySelector('main > section').dataset.old = '1', true)").await;
    b.click(css).await;
    b.until(
        "the re-rendered view",
        "!document.querySelector('main > section[data-old]') && document.body.dataset.busy === '0'",
        T,
    )
    .await;
}

/// Waits until no view is being built (the page counts them in `body[data-busy]`).
async fn settled(b: &Browser) {
    b.until("the view", "document.body.dataset.busy === '0'", T).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_signs_in_browses_uploads_downloads_and_restores() {
    let node = TestNode::start();
    node.wait_ready(T).await;
    let s3 = node.client();
    let work = tempfile::tempdir().unwrap();
    let downloads = work.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let shots = artefacts();
    let b = Browser::start(&downloads).await;

    // A browser asking for `/` is sent to the console; the SDK's ListBuckets is not.
    b.client.goto(&format!("{}/", node.endpoint())).await.unwrap();
    b.find("#signin").await;
    assert!(b.client.current_url().await.unwrap().path().starts_with("/console/"));
    b.screenshot(&shots, "sign-in").await;

    // A wrong secret: a clear error, and no way in.
    b.sign_in(node.access_key(), "not-the-secret").await;
    b.until("the sign-in error", "document.getElementById('signin-error').textContent.length > 0", T).await;
    let err = b.text("#signin-error").await;
    assert!(err.contains("secret key is wrong"), "sign-in error: {err}");
    assert!(b.eval("document.getElementById('nav').hidden").await.as_bool().unwrap());
    // An unknown access key says so.
    b.sign_in("AKIDNOSUCHKEY0000000", "whatever").await;
    b.until(
        "the unknown-key error",
        "document.getElementById('signin-error').textContent.includes('no such access key')",
        T,
    )
    .await;
    b.screenshot(&shots, "sign-in-error").await;

    // Sign in; create a bucket; turn versioning on.
    b.sign_in(node.access_key(), node.secret_key()).await;
    b.until(
        "the bucket list",
        "document.querySelector('h1') && document.querySelector('h1').textContent === 'Buckets'",
        T,
    )
    .await;
    b.fill("#new-bucket", "media").await;
    b.click("form.inline button[type=submit]").await;
    b.until("the new bucket's page", "location.hash === '#/b/media/' && document.getElementById('versioning')", T)
        .await;
    s3.head_bucket().bucket("media").send().await.expect("the bucket the console created");
    b.click("#versioning").await;
    b.until("versioning on", "document.body.textContent.includes('Versioning: Enabled')", T).await;
    let v = s3.get_bucket_versioning().bucket("media").send().await.unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));

    // Upload 50 MiB through the file picker: multipart, a progress bar that moves.
    let big = random_bytes(21, 50 << 20);
    let big_path = work.path().join("big.bin");
    std::fs::write(&big_path, &big).unwrap();
    b.eval(
        "(() => { window.__seen = []; new MutationObserver(() => { \
           for (const p of document.querySelectorAll('.uploads .pct')) window.__seen.push(p.textContent); \
         }).observe(document.getElementById('main'), { subtree: true, childList: true, characterData: true }); return true; })()",
    )
    .await;
    upload_through_picker(&b, &big_path).await;
    let seen: Vec<String> = serde_json::from_value(b.eval("window.__seen").await).unwrap();
    let between = seen.iter().filter(|p| p.ends_with('%') && p != &"0%" && p != &"100%").count();
    assert!(between >= 3, "the progress bar showed too few steps between 0 and 100%: {seen:?}");
    b.screenshot(&shots, "upload").await;
    let head = s3.head_object().bucket("media").key("big.bin").send().await.unwrap();
    assert_eq!(head.content_length(), Some(50 << 20));
    assert!(head.e_tag().unwrap().ends_with("-7\""), "a multipart upload of 8 MiB parts: {:?}", head.e_tag());
    let stored = s3.get_object().bucket("media").key("big.bin").send().await.unwrap();
    assert!(stored.body.collect().await.unwrap().into_bytes() == big, "the stored object differs from the file");
    // Nothing left as an unfinished upload.
    let ups = s3.list_multipart_uploads().bucket("media").send().await.unwrap();
    assert!(ups.uploads().is_empty());

    // The listing shows it; its page downloads it back byte for byte.
    b.until("big.bin listed", "[...document.querySelectorAll('td a')].some(a => a.textContent === 'big.bin')", T).await;
    b.screenshot(&shots, "objects").await;
    visit(&b, "#/o/media/big.bin").await;
    // A reload forgets the secret: the page asks to sign in again, then goes on.
    b.client.refresh().await.unwrap();
    b.find("#signin").await;
    assert!(b.eval("document.getElementById('nav').hidden").await.as_bool().unwrap());
    b.sign_in(node.access_key(), node.secret_key()).await;
    b.find("#download").await;
    b.click("#download").await;
    let got = b.downloaded("big.bin", Duration::from_secs(120)).await;
    assert!(got.len() == big.len() && got == big, "the download differs from the upload ({} bytes)", got.len());

    // A share link works without credentials.
    b.click("#share").await;
    b.until("a share link", "document.getElementById('share-link').value.startsWith('http')", T).await;
    let link = b.eval("document.getElementById('share-link').value").await.as_str().unwrap().to_string();
    assert!(link.contains("X-Amz-Expires=3600"), "{link}");
    let shared = reqwest::get(&link).await.unwrap();
    assert_eq!(shared.status(), 200);
    assert!(shared.bytes().await.unwrap() == big);

    // Two versions of a note; the old one restored from the versions table.
    let note = work.path().join("note.txt");
    std::fs::write(&note, b"first draft").unwrap();
    visit(&b, "#/b/media/").await;
    b.find("#upload-files").await.send_keys(&note.to_string_lossy()).await.unwrap();
    b.until("note uploaded", "[...document.querySelectorAll('td a')].some(a => a.textContent === 'note.txt')", T).await;
    std::fs::write(&note, b"second draft, worse").unwrap();
    b.find("#upload-files").await.send_keys(&note.to_string_lossy()).await.unwrap();
    b.until("the second upload's end", "document.querySelectorAll('.uploads li.done').length === 1", T).await;
    let current = s3.get_object().bucket("media").key("note.txt").send().await.unwrap();
    assert_eq!(&current.body.collect().await.unwrap().into_bytes()[..], b"second draft, worse");
    visit(&b, "#/o/media/note.txt").await;
    b.until("two versions", "document.querySelectorAll('tr[data-version]').length === 2", T).await;
    b.eval("(document.querySelector('tr[data-version]').scrollIntoView(), true)").await;
    b.screenshot(&shots, "versions").await;
    b.click("button.restore").await;
    b.until("three versions", "document.querySelectorAll('tr[data-version]').length === 3", T).await;
    settled(&b).await;
    let restored = s3.get_object().bucket("media").key("note.txt").send().await.unwrap();
    assert_eq!(&restored.body.collect().await.unwrap().into_bytes()[..], b"first draft");

    // Tags saved on the page are the object's tags.
    b.fill("#tags", "project=alpha\nstage=review").await;
    b.click("#tags + button").await;
    b.until("tags saved", "document.getElementById('status').textContent === 'Tags saved.'", T).await;
    let tags = s3.get_object_tagging().bucket("media").key("note.txt").send().await.unwrap();
    let mut pairs: Vec<(String, String)> = tags.tag_set().iter().map(|t| (t.key().into(), t.value().into())).collect();
    pairs.sort();
    assert_eq!(pairs, vec![("project".into(), "alpha".into()), ("stage".into(), "review".into())]);
    // The metadata shown is the object's.
    let meta = b.text("table.kv").await;
    assert!(meta.contains("content-type text/plain") && meta.contains("content-length 11"), "{meta}");

    // Delete on a versioned bucket: a delete marker, the versions kept; then one old
    // version deleted for good from the versions table.
    b.click("#delete").await;
    b.until("back in the folder", "location.hash === '#/b/media/'", T).await;
    settled(&b).await;
    let gone = s3.head_object().bucket("media").key("note.txt").send().await;
    assert_eq!(cairn_tests::ErrInfo::from_sdk(&gone.expect_err("deleted")).status, Some(404));
    visit(&b, "#/o/media/note.txt").await;
    b.until("the versions and the marker", "document.querySelectorAll('tr[data-version]').length === 4", T).await;
    assert!(b.text("#deleted-notice").await.contains("delete marker"));
    let oldest = s3.list_object_versions().bucket("media").prefix("note.txt").send().await.unwrap();
    let first = oldest.versions().iter().find(|v| v.size() == Some(11)).unwrap().version_id().unwrap().to_string();
    click_and_rerender(&b, &format!("tr[data-version=\"{first}\"] button[aria-label^='Delete version']")).await;
    let left = s3.list_object_versions().bucket("media").prefix("note.txt").send().await.unwrap();
    assert!(left.versions().iter().all(|v| v.version_id() != Some(first.as_str())), "version {first} is still there");
    assert_eq!(left.versions().len() + left.delete_markers().len(), 3);

    // Paging: 250 keys in a folder, 100 a page, never all loaded at once.
    let mut puts = Vec::new();
    for i in 0..250 {
        let s3 = s3.clone();
        puts.push(tokio::spawn(async move {
            s3.put_object()
                .bucket("media")
                .key(format!("many/k{i:04}"))
                .body(ByteStream::from_static(b"x"))
                .send()
                .await
        }));
    }
    for p in puts {
        p.await.unwrap().unwrap();
    }
    visit(&b, "#/b/media/many%2F").await;
    let rows = "document.querySelectorAll('tbody tr').length";
    b.until("page 1", &format!("{rows} === 100 && !document.getElementById('next-page').disabled"), T).await;
    assert_eq!(b.eval("document.querySelector('tbody tr td a').textContent").await, "k0000");
    b.click("#next-page").await;
    b.until("page 2", "document.getElementById('page-number').textContent.includes('Page 2')", T).await;
    assert_eq!(b.eval("document.querySelector('tbody tr td a').textContent").await, "k0100");
    b.click("#next-page").await;
    b.until("page 3", &format!("{rows} === 50 && document.getElementById('next-page').disabled"), T).await;
    assert_eq!(b.eval("document.querySelector('tbody tr td a').textContent").await, "k0200");
    b.click("#prev-page").await;
    b.until("back on page 2", "document.getElementById('page-number').textContent.includes('Page 2')", T).await;
    assert_eq!(b.eval("document.querySelector('tbody tr td a').textContent").await, "k0100");
    // Readable at 200%: the page reflows instead of scrolling sideways.
    b.eval("(document.documentElement.style.zoom = '200%', window.scrollTo(0, 0), true)").await;
    let (wide, room) = (b.eval("document.documentElement.scrollWidth").await, b.eval("window.innerWidth").await);
    assert!(wide.as_f64().unwrap() <= room.as_f64().unwrap() + 1.0, "at 200% the page is {wide} px wide in {room}");
    b.screenshot(&shots, "zoom-200").await;
    b.eval("(document.documentElement.style.zoom = '', true)").await;

    // A folder through the folder picker keeps its tree under the current folder;
    // a file dropped on the page is uploaded too.
    let shoot = work.path().join("day1");
    std::fs::create_dir_all(shoot.join("raw")).unwrap();
    std::fs::write(shoot.join("a.txt"), b"take one").unwrap();
    std::fs::write(shoot.join("raw/b.txt"), b"take two").unwrap();
    visit(&b, "#/b/media/many%2F").await;
    b.find("#upload-folder").await.send_keys(&shoot.to_string_lossy()).await.unwrap();
    b.until("the folder's upload", "document.querySelectorAll('.uploads li.done').length === 2", T).await;
    for (key, body) in [("many/day1/a.txt", &b"take one"[..]), ("many/day1/raw/b.txt", b"take two")] {
        let got = s3.get_object().bucket("media").key(key).send().await.unwrap_or_else(|e| panic!("{key}: {e:?}"));
        assert_eq!(&got.body.collect().await.unwrap().into_bytes()[..], body);
    }
    settled(&b).await;
    b.eval(
        "(() => { const dt = new DataTransfer();            dt.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));            document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));            return true; })()",
    )
    .await;
    b.until(
        "the drop's upload",
        "[...document.querySelectorAll('.uploads li.done')].some(l => l.dataset.key === 'many/dropped.txt')",
        T,
    )
    .await;
    let dropped = s3.get_object().bucket("media").key("many/dropped.txt").send().await.unwrap();
    assert_eq!(dropped.content_type(), Some("text/plain"));
    assert_eq!(&dropped.body.collect().await.unwrap().into_bytes()[..], b"dropped bytes");

    // The bucket's policy: refusals shown where they point, then one saved.
    visit(&b, "#/policy/media").await;
    b.fill("#policy", "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [ oops ]\n}").await;
    b.click("#policy-save").await;
    b.until("the JSON error", "document.getElementById('policy-where') !== null", T).await;
    assert!(b.text("#policy-error").await.contains("MalformedPolicy"), "{}", b.text("#policy-error").await);
    assert!(b.text("#policy-where").await.starts_with("At line 3"), "{}", b.text("#policy-where").await);
    let picked = b.eval("(() => { const a = document.getElementById('policy'); return a.value.slice(a.selectionStart, a.selectionEnd + 3); })()").await;
    assert!(picked.as_str().unwrap().contains('o'), "the selection is not at the error: {picked}");
    let maybe = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Fine", "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::media/public/*"},
        {"Sid": "Unsure", "Effect": "Maybe", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::media/*"}]});
    b.fill("#policy", &serde_json::to_string_pretty(&maybe).unwrap()).await;
    b.click("#policy-save").await;
    b.until("the statement error", "document.querySelector('pre#policy-where') !== null", T).await;
    assert!(b.text("#policy-error").await.contains("Statement[1]"), "{}", b.text("#policy-error").await);
    assert!(b.text("#policy-where").await.contains("Unsure"), "{}", b.text("#policy-where").await);
    b.screenshot(&shots, "policy-error").await;
    let good = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Fine", "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::media/public/*"}]});
    b.fill("#policy", &serde_json::to_string_pretty(&good).unwrap()).await;
    b.click("#policy-save").await;
    b.until("saved", "document.getElementById('status').textContent === 'Policy saved.'", T).await;
    let stored = s3.get_bucket_policy().bucket("media").send().await.unwrap();
    assert!(stored.policy().unwrap().contains("media/public/*"));

    // The admin screens of the root key: this node, its disks, its keys.
    b.click("#nav a[data-section=cluster]").await;
    b.until("the node table", "document.querySelector('tr[data-node]') !== null", T).await;
    assert!(b.text("main").await.contains("Disks of node"));
    b.screenshot(&shots, "cluster").await;
    b.click("#nav a[data-section=keys]").await;
    b.fill("#key-name", "reviewer").await;
    b.click("main form.inline button[type=submit]").await;
    b.until("a new key", "document.querySelector('#key-created code') !== null", T).await;
    let codes: Vec<String> = serde_json::from_value(
        b.eval("[...document.querySelectorAll('#key-created code')].map(c => c.textContent)").await,
    )
    .unwrap();
    b.screenshot(&shots, "keys").await;

    // Sign out forgets the secret; the new (non-admin) key signs in without the
    // admin sections, and the node refuses it what it may not do.
    b.click("#signout").await;
    b.until(
        "the sign-in form",
        "!document.getElementById('signin').hidden && document.getElementById('nav').hidden",
        T,
    )
    .await;
    b.sign_in(&codes[0], &codes[1]).await;
    b.until("signed in as the new key", "!document.getElementById('nav').hidden", T).await;
    assert!(b.eval("document.querySelector('#nav a[data-section=cluster]').hidden").await.as_bool().unwrap());
    visit(&b, "#/b/media/").await;
    b.until("the refusal", "document.getElementById('status').textContent.includes('AccessDenied')", T).await;

    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_files_are_served_and_reserved() {
    let node = TestNode::start();
    node.wait_ready(T).await;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/console/", node.endpoint())).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let js = http.get(format!("{}/console/js/sigv4.js", node.endpoint())).send().await.unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"].to_str().unwrap().contains("javascript"));
    let missing = http.get(format!("{}/console/nope.js", node.endpoint())).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    // `/` redirects a browser only: an anonymous S3 client still gets S3's answer.
    let no_redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let html = no_redirect.get(format!("{}/", node.endpoint())).header("accept", "text/html").send().await.unwrap();
    assert_eq!(html.status(), 302);
    assert_eq!(html.headers()["location"], "/console/");
    let s3 = no_redirect.get(format!("{}/", node.endpoint())).send().await.unwrap();
    assert_eq!(s3.status(), 403);
    // Signed S3 requests never reach the console; its name is no bucket's.
    let err = node.client().create_bucket().bucket("console").send().await.expect_err("a reserved name");
    let info = cairn_tests::ErrInfo::from_sdk(&err);
    assert_eq!(info.code.as_deref(), Some("InvalidBucketName"), "{info:?}");
    let buckets = node.client().list_buckets().send().await.unwrap();
    assert!(buckets.buckets().is_empty());
}

/// A signed JSON call to `/cairn/v1/` that must answer `want`.
async fn v1(
    ep: &str,
    who: (&str, &str),
    method: &str,
    op: &str,
    body: serde_json::Value,
    want: u16,
) -> serde_json::Value {
    let (status, v) = cairn_tests::v1_json(ep, who, method, op, body).await;
    assert_eq!(status, want, "{method} {op}: {v}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_tenant_admin_sets_quotas_and_works_the_catalogue() {
    use serde_json::json;
    let node = TestNode::start_with(&["--usage-sample-secs", "1"]);
    node.wait_ready(T).await;
    let ep = node.endpoint().to_string();
    let root = (node.access_key(), node.secret_key());
    v1(&ep, root, "POST", "tenants", json!({"id": "acme", "name": "Acme", "quota": {"bytes": 1u64 << 30}}), 201).await;
    v1(&ep, root, "POST", "tenants", json!({"id": "acme-film", "name": "Film", "parent": "acme"}), 201).await;
    v1(&ep, root, "POST", "tenants", json!({"id": "partner", "name": "Partner"}), 201).await;
    let boss = v1(&ep, root, "POST", "tenants/acme/keys", json!({"name": "boss", "tenant_admin": true}), 201).await;
    let boss = cairn_tests::creds_of(&boss);
    let who = (boss.0.as_str(), boss.1.as_str());
    let s3 = cairn_tests::ClientBuilder::new(&ep).credentials(who.0, who.1).build();
    s3.create_bucket().bucket("acme-media").send().await.unwrap();
    // Usage grows in two steps, each seen by samples taken once a second.
    for (step, keys) in [(1u64, &["trailer-v1.mp4"][..]), (3, &["trailer-v2.mp4", "poster.png"][..])] {
        for key in keys {
            let body = random_bytes(step + key.len() as u64, 1 << 20);
            s3.put_object().bucket("acme-media").key(*key).body(body.into()).send().await.unwrap();
        }
        let deadline = std::time::Instant::now() + T;
        loop {
            let h = v1(&ep, who, "GET", "tenants/acme/usage/history", serde_json::Value::Null, 200).await;
            let seen = h["samples"].as_array().unwrap().iter().filter(|s| s["bytes"] == step << 20).count();
            if seen >= 1 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no usage sample of {step} MiB: {h}");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    let video = |key: &str| json!({"object": {"bucket": "acme-media", "key": key}});
    let trailer = v1(
        &ep,
        who,
        "POST",
        "assets",
        json!({"name": "Trailer", "media_type": "video", "tags": {"genre": "action"},
        "version": video("trailer-v1.mp4")}),
        201,
    )
    .await;
    let trailer = trailer["id"].as_str().unwrap().to_string();
    v1(&ep, who, "POST", &format!("assets/{trailer}/versions"), video("trailer-v2.mp4"), 201).await;
    v1(
        &ep,
        who,
        "POST",
        "assets",
        json!({"name": "Poster", "media_type": "image", "version": video("poster.png")}),
        201,
    )
    .await;

    let work = tempfile::tempdir().unwrap();
    let b = Browser::start(work.path()).await;
    let shots = artefacts();
    b.client.goto(&format!("{ep}/console/")).await.unwrap();
    b.sign_in(who.0, who.1).await;
    b.until("signed in", "!document.getElementById('nav').hidden", T).await;
    // A tenant admin: tenants yes, cluster and keys no.
    assert!(!b.eval("document.querySelector('#nav a[data-section=tenants]').hidden").await.as_bool().unwrap());
    assert!(b.eval("document.querySelector('#nav a[data-section=cluster]').hidden").await.as_bool().unwrap());

    // Its tenant, with the usage chart.
    b.click("#nav a[data-section=tenants]").await;
    b.until("its tenant", "document.querySelector('tr[data-tenant=acme] a') !== null", T).await;
    b.click("tr[data-tenant=acme] a").await;
    b.until("the chart", "document.querySelector('#usage-chart polyline') !== null", T).await;
    let points =
        b.eval("document.querySelector('#usage-chart polyline').getAttribute('points').trim().split(' ').length").await;
    assert!(points.as_u64().unwrap() >= 3, "samples and now: {points}");
    // The line rises from the empty tenant to its 3 MiB (SVG y grows downwards).
    let ys: Vec<f64> = serde_json::from_value(
        b.eval("document.querySelector('#usage-chart polyline').getAttribute('points').trim().split(' ').map(p => Number(p.split(',')[1]))").await,
    )
    .unwrap();
    assert!(ys.last().unwrap() < &(ys[0] - 50.0), "the chart does not show the usage rise: {ys:?}");
    assert!(b.text("#tenant-used").await.starts_with("3.0 MiB, 3 objects"), "{}", b.text("#tenant-used").await);
    settled(&b).await;
    // A quota above the parent's is refused with the node's reason, on the page.
    b.fill("#quota-acme-film-bytes", "2").await;
    b.find("#quota-acme-film-unit").await.select_by_value(&(1u64 << 30).to_string()).await.unwrap();
    b.click("form.quota-form[data-tenant=acme-film] button").await;
    b.until("the refusal", "document.getElementById('status').textContent.includes('QuotaExceedsParent')", T).await;
    // 10 MiB is taken.
    b.fill("#quota-acme-film-bytes", "10").await;
    b.find("#quota-acme-film-unit").await.select_by_value(&(1u64 << 20).to_string()).await.unwrap();
    b.click("form.quota-form[data-tenant=acme-film] button").await;
    b.until("the quota set", "document.getElementById('status').textContent.startsWith('Quota of acme-film set')", T)
        .await;
    let film = v1(&ep, who, "GET", "tenants/acme-film", serde_json::Value::Null, 200).await;
    assert_eq!(film["quota"]["bytes"], 10u64 << 20);
    settled(&b).await;
    b.until(
        "the new quota shown",
        "document.querySelector('tr[data-tenant=acme-film] td.quota').textContent === '10 MiB'",
        T,
    )
    .await;
    b.screenshot(&shots, "tenant").await;

    // The catalogue: by media type, by tag, by words.
    b.click("#nav a[data-section=assets]").await;
    b.until("both assets", "document.querySelectorAll('tr[data-asset]').length === 2", T).await;
    assert_eq!(b.eval("document.getElementById('asset-tenant').value").await, "acme");
    b.find("#asset-media").await.select_by_value("video").await.unwrap();
    click_and_rerender(&b, "#asset-apply").await;
    b.until("videos only", "document.querySelectorAll('tr[data-asset]').length === 1", T).await;
    assert_eq!(b.text("tr[data-asset] a").await, "Trailer");
    b.find("#asset-media").await.select_by_value("").await.unwrap();
    b.fill("#asset-tag", "genre=action").await;
    click_and_rerender(&b, "#asset-apply").await;
    b.until("by tag", "document.querySelectorAll('tr[data-asset]').length === 1", T).await;
    assert_eq!(b.text("tr[data-asset] a").await, "Trailer");
    b.fill("#asset-tag", "").await;
    b.fill("#asset-q", "poster").await;
    // The search index follows commits within a few seconds.
    let deadline = std::time::Instant::now() + T;
    loop {
        click_and_rerender(&b, "#asset-apply").await;
        if b.text("tr[data-asset] a").await == "Poster" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "search never found the poster");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    b.fill("#asset-q", "").await;
    click_and_rerender(&b, "#asset-apply").await;

    // The version chain: roll back to version 1.
    visit(&b, &format!("#/asset/{trailer}")).await;
    b.until("two versions", "document.querySelectorAll('tr[data-version]').length === 2", T).await;
    b.click("button.rollback").await;
    b.until("three versions", "document.querySelectorAll('tr[data-version]').length === 3", T).await;
    let latest = v1(&ep, who, "GET", &format!("assets/{trailer}/versions/latest"), serde_json::Value::Null, 200).await;
    assert_eq!((latest["number"].as_u64(), latest["rollback_of"].as_u64()), (Some(3), Some(1)));
    assert_eq!(latest["object"]["key"], "trailer-v1.mp4");
    settled(&b).await;
    // Shared with another tenant, then revoked.
    b.fill("#share-tenant", "partner").await;
    b.click("#share-tenant + button").await;
    b.until("the share", "document.body.textContent.includes('Shared with partner')", T).await;
    let shares = v1(&ep, who, "GET", &format!("assets/{trailer}/shares"), serde_json::Value::Null, 200).await;
    assert_eq!(shares["shares"][0]["tenant"], "partner");
    settled(&b).await;
    b.screenshot(&shots, "asset").await;
    // To the trash and back.
    b.click("#asset-trash-it").await;
    b.until("in the trash", "document.getElementById('asset-restore') !== null", T).await;
    visit(&b, "#/assets").await;
    b.click("#asset-trash").await;
    click_and_rerender(&b, "#asset-apply").await;
    assert_eq!(b.text("#assets-title").await, "Trash");
    b.until("the trash listing", "document.querySelectorAll('tr[data-asset]').length === 1", T).await;
    assert_eq!(b.text("tr[data-asset] a").await, "Trailer");
    b.click("tr[data-asset] a").await;
    b.click("#asset-restore").await;
    b.until("restored", "document.getElementById('asset-trash-it') !== null", T).await;
    let a = v1(&ep, who, "GET", &format!("assets/{trailer}"), serde_json::Value::Null, 200).await;
    assert!(a.get("trashed_at").is_none(), "{a}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_upload_resumes_after_a_reload() {
    let node = TestNode::start();
    node.wait_ready(T).await;
    let s3 = node.client();
    s3.create_bucket().bucket("resume").send().await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("cut.bin");
    let data = random_bytes(77, 40 << 20);
    std::fs::write(&file, &data).unwrap();
    let b = Browser::start(work.path()).await;
    b.client.goto(&format!("{}/console/#/b/resume/", node.endpoint())).await.unwrap();
    b.sign_in(node.access_key(), node.secret_key()).await;
    b.find("#upload-files").await;
    settled(&b).await;

    // Slow uploads, so that the reload lands in the middle: 8 MiB/s for 40 MiB.
    b.throttle_uploads(Some(8 << 20)).await;
    b.find("#upload-files").await.send_keys(&file.to_string_lossy()).await.unwrap();
    let deadline = std::time::Instant::now() + T;
    let upload_id = loop {
        let ups = s3.list_multipart_uploads().bucket("resume").send().await.unwrap();
        if let Some(u) = ups.uploads().first() {
            let id = u.upload_id().unwrap().to_string();
            let parts = s3.list_parts().bucket("resume").key("cut.bin").upload_id(&id).send().await.unwrap();
            if !parts.parts().is_empty() {
                break id;
            }
        }
        assert!(std::time::Instant::now() < deadline, "no part arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    b.client.refresh().await.unwrap();
    b.throttle_uploads(None).await;
    let before = s3.list_parts().bucket("resume").key("cut.bin").upload_id(&upload_id).send().await.unwrap();
    let kept = before.parts().len();
    assert!(kept < 5, "the upload finished before the reload ({kept} parts)");

    // What the page keeps for a resume holds no credential.
    let stored = b.eval("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)").await;
    assert!(!stored.as_str().unwrap().contains(node.secret_key()), "{stored}");
    assert!(stored.as_str().unwrap().contains(&upload_id), "{stored}");

    b.sign_in(node.access_key(), node.secret_key()).await;
    b.until("the unfinished upload", "document.body.textContent.includes('Unfinished uploads')", T).await;
    b.eval(
        "(() => { window.__said = []; new MutationObserver(() => window.__said.push(document.getElementById('status').textContent)) \
           .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true }); return true; })()",
    )
    .await;
    b.screenshot(&artefacts(), "resume").await;
    upload_through_picker(&b, &file).await;
    let said: Vec<String> = serde_json::from_value(b.eval("window.__said").await).unwrap();
    let resumed =
        said.iter().find(|s| s.starts_with("Resuming cut.bin")).unwrap_or_else(|| panic!("no resume: {said:?}"));
    let already: usize = resumed.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(already >= kept && already >= 1, "{resumed} (ListParts saw {kept} before the reload)");
    let head = s3.head_object().bucket("resume").key("cut.bin").send().await.unwrap();
    assert!(head.e_tag().unwrap().ends_with("-5\""), "{:?}", head.e_tag());
    let got = s3.get_object().bucket("resume").key("cut.bin").send().await.unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == data, "the resumed object differs from the file");
    assert!(s3.list_multipart_uploads().bucket("resume").send().await.unwrap().uploads().is_empty());
    let left = b.eval("localStorage.getItem('cairn.console.uploads')").await;
    assert_eq!(left, "{}", "the finished upload is forgotten");
    b.close().await;
}
