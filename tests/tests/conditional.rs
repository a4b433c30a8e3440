//! Conditional GET/HEAD and conditional PUT (If-Match / If-None-Match), incl. a race.

use std::collections::HashSet;

use cairn_tests::aws_sdk_s3::primitives::{ByteStream, DateTime};
use cairn_tests::*;

const OTHER_ETAG: &str = "\"0123456789abcdef0123456789abcdef\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_get_and_head() {
    let node = TestNode::start();
    let (c, rec) = node.recording_client();
    create_bucket(&c, "cond").await;
    for (key, len) in [("inline", 500usize), ("sharded", 200_000)] {
        let data = random_bytes(len as u64, len);
        let etag = put_bytes(&c, "cond", key, data.clone()).await;
        let lm = c.head_object().bucket("cond").key(key).send().await.unwrap().last_modified().cloned().unwrap();
        let before = DateTime::from_secs(lm.secs() - 3600);
        let after = DateTime::from_secs(lm.secs() + 3600);

        // --- If-Match
        let g = c.get_object().bucket("cond").key(key).if_match(&etag).send().await.expect("if-match right");
        assert!(read_body(g.body).await == data);
        c.get_object().bucket("cond").key(key).if_match("*").send().await.expect("if-match *");
        assert_s3_err(
            &format!("{key} GET if-match wrong"),
            c.get_object().bucket("cond").key(key).if_match(OTHER_ETAG).send().await,
            412,
            "PreconditionFailed",
        );
        assert_status_err(
            &format!("{key} HEAD if-match wrong"),
            c.head_object().bucket("cond").key(key).if_match(OTHER_ETAG).send().await,
            412,
        );

        // --- If-None-Match
        assert_status_err(
            &format!("{key} GET if-none-match current"),
            c.get_object().bucket("cond").key(key).if_none_match(&etag).send().await,
            304,
        );
        assert_status_err(
            &format!("{key} HEAD if-none-match current"),
            c.head_object().bucket("cond").key(key).if_none_match(&etag).send().await,
            304,
        );
        assert_status_err(
            &format!("{key} GET if-none-match *"),
            c.get_object().bucket("cond").key(key).if_none_match("*").send().await,
            304,
        );
        let g =
            c.get_object().bucket("cond").key(key).if_none_match(OTHER_ETAG).send().await.expect("if-none-match other");
        assert_eq!(rec.last(), Some(200));
        assert!(read_body(g.body).await == data);

        // --- If-Modified-Since (Last-Modified itself counts as "not modified since")
        assert_status_err(
            &format!("{key} GET if-modified-since = Last-Modified"),
            c.get_object().bucket("cond").key(key).if_modified_since(lm).send().await,
            304,
        );
        assert_status_err(
            &format!("{key} HEAD if-modified-since later"),
            c.head_object().bucket("cond").key(key).if_modified_since(after).send().await,
            304,
        );
        c.get_object()
            .bucket("cond")
            .key(key)
            .if_modified_since(before)
            .send()
            .await
            .expect("if-modified-since earlier");
        assert_eq!(rec.last(), Some(200));

        // --- If-Unmodified-Since
        assert_s3_err(
            &format!("{key} GET if-unmodified-since earlier"),
            c.get_object().bucket("cond").key(key).if_unmodified_since(before).send().await,
            412,
            "PreconditionFailed",
        );
        assert_status_err(
            &format!("{key} HEAD if-unmodified-since earlier"),
            c.head_object().bucket("cond").key(key).if_unmodified_since(before).send().await,
            412,
        );
        c.get_object()
            .bucket("cond")
            .key(key)
            .if_unmodified_since(lm)
            .send()
            .await
            .expect("if-unmodified-since = Last-Modified");
        c.get_object()
            .bucket("cond")
            .key(key)
            .if_unmodified_since(after)
            .send()
            .await
            .expect("if-unmodified-since later");

        // --- Combinations (RFC 7232 precedence, as S3 documents):
        // If-Match true + If-Unmodified-Since false -> 200.
        c.get_object()
            .bucket("cond")
            .key(key)
            .if_match(&etag)
            .if_unmodified_since(before)
            .send()
            .await
            .expect("if-match true wins over if-unmodified-since false");
        assert_eq!(rec.last(), Some(200));
        // If-None-Match false + If-Modified-Since true -> 304.
        assert_status_err(
            &format!("{key} if-none-match false + if-modified-since true"),
            c.get_object().bucket("cond").key(key).if_none_match(&etag).if_modified_since(before).send().await,
            304,
        );
    }

    // Conditions on a missing key: the key is missing first.
    assert_s3_err(
        "missing key if-match",
        c.get_object().bucket("cond").key("nope").if_match("*").send().await,
        404,
        "NoSuchKey",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_put() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "cput").await;

    // If-None-Match: * on a new key creates it; on an existing key it is refused.
    let first = random_bytes(1, 300);
    c.put_object()
        .bucket("cput")
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from(first.clone()))
        .send()
        .await
        .expect("if-none-match * on new key");
    let r =
        c.put_object().bucket("cput").key("k").if_none_match("*").body(ByteStream::from_static(b"second")).send().await;
    assert_s3_err("if-none-match * on existing key", r, 412, "PreconditionFailed");
    assert_eq!(get_bytes(&c, "cput", "k").await, first, "refused PUT changed the object");

    // Same on a sharded object.
    let big = random_bytes(2, 300_000);
    c.put_object()
        .bucket("cput")
        .key("big")
        .if_none_match("*")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();
    let r = c
        .put_object()
        .bucket("cput")
        .key("big")
        .if_none_match("*")
        .body(ByteStream::from(random_bytes(3, 300_000)))
        .send()
        .await;
    assert_s3_err("if-none-match * on existing sharded key", r, 412, "PreconditionFailed");
    assert!(get_bytes(&c, "cput", "big").await == big);

    // If-Match with the current ETag replaces; with a stale one it is refused.
    let etag1 = etag_of(&first);
    let second = random_bytes(4, 5000);
    let out = c
        .put_object()
        .bucket("cput")
        .key("k")
        .if_match(&etag1)
        .body(ByteStream::from(second.clone()))
        .send()
        .await
        .expect("if-match right etag");
    assert_eq!(out.e_tag(), Some(etag_of(&second).as_str()));
    let r =
        c.put_object().bucket("cput").key("k").if_match(&etag1).body(ByteStream::from_static(b"third")).send().await;
    assert_s3_err("if-match stale etag", r, 412, "PreconditionFailed");
    assert_eq!(get_bytes(&c, "cput", "k").await, second);

    // If-Match on a missing key: 404 NoSuchKey, and nothing is created.
    let r =
        c.put_object().bucket("cput").key("missing").if_match(&etag1).body(ByteStream::from_static(b"x")).send().await;
    assert_s3_err("if-match on missing key", r, 404, "NoSuchKey");
    assert_status_err(
        "missing key after refused if-match",
        c.head_object().bucket("cput").key("missing").send().await,
        404,
    );

    // After a delete, If-None-Match: * succeeds again.
    c.delete_object().bucket("cput").key("k").send().await.unwrap();
    c.put_object()
        .bucket("cput")
        .key("k")
        .if_none_match("*")
        .body(ByteStream::from_static(b"again"))
        .send()
        .await
        .expect("create after delete");
    assert_eq!(get_bytes(&c, "cput", "k").await, b"again");
}

async fn race(node: &TestNode, key: &str, len: usize, writers: u64) {
    let c = node.client();
    let mut tasks = Vec::new();
    for i in 0..writers {
        let c = c.clone();
        let key = key.to_string();
        tasks.push(tokio::spawn(async move {
            let body = random_bytes(1000 + i, len);
            let r = c
                .put_object()
                .bucket("race")
                .key(&key)
                .if_none_match("*")
                .body(ByteStream::from(body.clone()))
                .send()
                .await;
            (i, body, r.map_err(|e| ErrInfo::from_sdk(&e)))
        }));
    }
    let mut winners = Vec::new();
    let mut others = HashSet::new();
    for t in tasks {
        let (i, body, r) = t.await.unwrap();
        match r {
            Ok(out) => winners.push((i, body, out.e_tag().map(str::to_string))),
            Err(e) => {
                assert_eq!(
                    (e.status, e.code.as_deref()),
                    (Some(412), Some("PreconditionFailed")),
                    "{key}: loser {i} failed otherwise: {}",
                    e.debug
                );
                others.insert(i);
            }
        }
    }
    assert_eq!(winners.len(), 1, "{key}: {} of {writers} conditional PUTs succeeded (want exactly 1)", winners.len());
    let (i, body, etag) = winners.pop().unwrap();
    assert_eq!(others.len() as u64, writers - 1);
    let stored = get_bytes(&c, "race", key).await;
    assert!(stored == body, "{key}: stored object is not the winner's ({i}) body");
    assert_eq!(etag, Some(etag_of(&body)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_put_race_has_exactly_one_winner() {
    let node = TestNode::start();
    let c = node.client();
    create_bucket(&c, "race").await;
    race(&node, "inline-race", 1000, 24).await;
    race(&node, "sharded-race", 100_000, 16).await;
}
