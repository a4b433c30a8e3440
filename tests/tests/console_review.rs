//! Video review in the web console: two reviewers in two real headless Chromium
//! browsers, each signed in on a different node of a 3-node cluster, on the same
//! video (a real 25 fps WebM, `tests/fixtures/review.webm`). One steps to frame 100
//! and draws a rectangle; the other sees it arrive live, with its playhead; a reply
//! and a resolve go back the other way. Everything is checked on the page and
//! through the annotation API.

use cairn_tests::browser::{artefacts, Browser};
use cairn_tests::cluster::TestCluster;
use cairn_tests::review::{frame, open, studio};
use cairn_tests::*;
use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
use fantoccini::key::Key;
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reviewers_on_two_nodes_annotate_a_frame_live() {
    let cluster = TestCluster::start(3);
    let eps: Vec<String> = cluster.nodes.iter().map(|n| n.endpoint().to_string()).collect();
    let studio = studio(&eps[0]).await;
    let (editor, reviewer, video, id) = (studio.editor, studio.reviewer, studio.video, studio.asset);

    let work = tempfile::tempdir().unwrap();
    let a = Browser::start(work.path()).await;
    let b = Browser::start(work.path()).await;
    open(&a, &eps[0], &video, &editor).await;
    open(&b, &eps[1], &video, &reviewer).await;

    // Frame stepping: jump by number and by timecode, one frame each way, keys.
    a.fill("#jump", "100").await;
    a.click("#jump-go").await;
    assert_eq!(frame(&a).await, 100);
    a.click("#next-frame").await;
    assert_eq!(frame(&a).await, 101);
    a.click("#prev-frame").await;
    assert_eq!(frame(&a).await, 100);
    a.fill("#jump", "00:00:02:10").await;
    a.click("#jump-go").await;
    assert_eq!(frame(&a).await, 60);
    a.find(".player").await.send_keys(&Key::Right.to_string()).await.unwrap();
    assert_eq!(frame(&a).await, 61);
    a.fill("#jump", "00:00:04:00").await;
    a.click("#jump-go").await;
    assert_eq!(frame(&a).await, 100);
    // The picture on show is frame 100's: 4.00 s to 4.04 s at 25 fps.
    a.until("the seek", "!document.querySelector('.review video').seeking", T).await;
    let t = a.eval("document.querySelector('.review video').currentTime").await.as_f64().unwrap();
    assert!((4.0..4.04).contains(&t), "frame 100 shows from 4.00 s to 4.04 s, the player is at {t}");
    assert_eq!(a.text("#timecode").await, "00:00:04:00");

    // B sees A's playhead arrive (presence through the other node).
    b.until("A's playhead", "document.querySelector('.timeline .other[data-frame=\"100\"]') !== null", T).await;

    // A draws a rectangle on frame 100 with a comment.
    a.click("button[data-tool=rect]").await;
    a.fill("#comment", "boom mic in shot").await;
    a.drag(".overlay", &[(-80.0, -50.0), (40.0, 30.0)]).await;
    a.until("the saved rectangle", "document.querySelector('.overlay rect[data-kind=rect]:not(.preview)') !== null && document.getElementById('status').textContent.startsWith('Annotation saved')", T)
        .await;
    let saved_at = a.eval("Date.now()").await.as_f64().unwrap();
    let note = a.eval("document.querySelector('#notes li').dataset.id").await.as_str().unwrap().to_string();

    // B, on another node, gets it within a second.
    b.eval(&format!(
        "(() => {{ const seen = () => document.querySelector('#notes li[data-id=\"{note}\"]'); \
           if (seen()) {{ window.__arrived = Date.now(); return true; }} \
           new MutationObserver((_, o) => {{ if (seen()) {{ window.__arrived = Date.now(); o.disconnect(); }} }}) \
             .observe(document.getElementById('notes'), {{ childList: true, subtree: true }}); return true; }})()"
    ))
    .await;
    b.until("the annotation on B", "window.__arrived !== undefined", T).await;
    let arrived = b.eval("window.__arrived").await.as_f64().unwrap();
    let late = arrived - saved_at;
    eprintln!("annotation seen on the other node {late:.0} ms after it was saved");
    assert!(late < 1000.0, "the annotation reached the other node's browser {late:.0} ms after it was saved");
    // B steps there and sees the shape over the picture.
    b.click(&format!("#notes li[data-id=\"{note}\"] .goto")).await;
    assert_eq!(frame(&b).await, 100);
    b.until("the rectangle on B", "document.querySelector('.overlay rect[data-kind=rect]') !== null", T).await;
    assert!(b.text("#notes").await.contains("boom mic in shot"));

    // B replies; A sees the reply. A resolves; B sees it resolved.
    b.fill(&format!("#notes li[data-id=\"{note}\"] form.reply input"), "agreed, reshoot").await;
    b.click(&format!("#notes li[data-id=\"{note}\"] form.reply button")).await;
    a.until("the reply on A", "document.querySelector('#notes .replies li') !== null", T).await;
    assert!(a.text("#notes .replies").await.contains("agreed, reshoot"));
    a.click(&format!("#notes li[data-id=\"{note}\"] .resolve")).await;
    b.until(
        "resolved on B",
        &format!("document.querySelector('#notes li[data-id=\"{note}\"]').classList.contains('resolved')"),
        T,
    )
    .await;

    // Every other kind of shape, drawn with the mouse; each reaches B live.
    let shapes = "document.querySelectorAll('#notes > li').length";
    let mut drawn = 1;
    for (tool, moves) in [
        ("ellipse", vec![(-120.0, 20.0), (-60.0, 60.0)]),
        ("arrow", vec![(100.0, -60.0), (20.0, 0.0)]),
        ("line", vec![(-140.0, -70.0), (140.0, -70.0)]),
        ("freehand", vec![(60.0, 40.0), (80.0, 50.0), (100.0, 45.0), (120.0, 60.0)]),
    ] {
        a.click(&format!("button[data-tool={tool}]")).await;
        a.drag(".overlay", &moves).await;
        drawn += 1;
        a.until(&format!("the {tool}"), &format!("{shapes} === {drawn}"), T).await;
    }
    // A polygon: three corners (a drag of one point is a click), then a double click
    // to close it.
    a.click("button[data-tool=polygon]").await;
    for (x, y) in [(-30.0, 50.0), (30.0, 50.0), (0.0, 75.0)] {
        a.drag(".overlay", &[(x, y)]).await;
    }
    let overlay = a.find(".overlay").await;
    let double = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement { element: overlay, duration: None, x: 0.0, y: 75.0 })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT })
        .then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
    a.client.perform_actions(double).await.unwrap();
    drawn += 1;
    a.until("the polygon", &format!("{shapes} === {drawn}"), T).await;
    // A text label where the mouse clicks.
    a.click("button[data-tool=text]").await;
    a.fill("#comment", "logo here").await;
    a.drag(".overlay", &[(-100.0, -60.0)]).await;
    drawn += 1;
    a.until("the text", &format!("{shapes} === {drawn}"), T).await;
    // B, still on frame 100, draws them all over its picture.
    b.until(
        "every shape on B",
        "['rect','ellipse','arrow','line','freehand','polygon','text'].every(k => document.querySelector(`.overlay [data-kind=${k}]`))",
        T,
    )
    .await;
    b.screenshot(&artefacts(), "review-shapes").await;
    // The timeline's marker takes B back to the annotated frame.
    b.fill("#jump", "0").await;
    b.click("#jump-go").await;
    assert_eq!(frame(&b).await, 0);
    assert_eq!(
        b.eval("document.querySelectorAll('.overlay [data-kind]').length").await,
        0,
        "frame 0 has no annotations"
    );
    b.click(".timeline .marker").await;
    assert_eq!(frame(&b).await, 100);
    a.screenshot(&artefacts(), "review").await;
    // A deleted shape leaves both pages.
    let line =
        a.eval("document.querySelector('.overlay [data-kind=line]').dataset.id").await.as_str().unwrap().to_string();
    a.click(&format!("#notes li[data-id=\"{line}\"] .delete")).await;
    b.until("the line gone on B", &format!("!document.querySelector('#notes li[data-id=\"{line}\"]') && !document.querySelector('.overlay [data-kind=line]')"), T)
        .await;

    // What the pages did is what the API holds.
    let (status, list) =
        v1_json(&eps[2], (&editor.0, &editor.1), "GET", &format!("assets/{id}/versions/1/annotations"), Value::Null)
            .await;
    assert_eq!(status, 200, "{list}");
    let all = list["annotations"].as_array().unwrap();
    let rect = all.iter().find(|x| x["id"] == note.as_str()).expect("the rectangle");
    assert_eq!(rect["kind"], "rect");
    assert_eq!(rect["frame"], 100);
    assert_eq!(rect["status"], "resolved");
    assert_eq!(rect["text"], "boom mic in shot");
    let g = &rect["geometry"];
    for f in ["x", "y", "w", "h"] {
        let v = g[f].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "geometry {f} = {v}");
    }
    // The drag went 120 x 80 CSS pixels over the picture: a real rectangle, not a dot.
    assert!(g["w"].as_f64().unwrap() > 0.05 && g["h"].as_f64().unwrap() > 0.05, "{g}");
    let mut kinds: Vec<&str> =
        all.iter().filter(|x| x.get("parent").is_none()).map(|x| x["kind"].as_str().unwrap()).collect();
    kinds.sort();
    assert_eq!(kinds, ["arrow", "ellipse", "freehand", "polygon", "rect", "text"], "the line was deleted");
    let polygon = all.iter().find(|x| x["kind"] == "polygon").unwrap();
    assert_eq!(polygon["geometry"]["points"].as_array().unwrap().len(), 3, "{polygon}");
    let freehand = all.iter().find(|x| x["kind"] == "freehand").unwrap();
    assert!(freehand["geometry"]["points"].as_array().unwrap().len() >= 4, "{freehand}");
    let text = all.iter().find(|x| x["kind"] == "text" && x.get("parent").is_none()).unwrap();
    assert_eq!(text["text"], "logo here");
    assert!(all.iter().all(|x| x["frame"] == 100));
    let reply = all.iter().find(|x| x["parent"] == note.as_str()).expect("the reply");
    assert_eq!(reply["text"], "agreed, reshoot");
    assert_eq!(reply["author"], reviewer.0.as_str());

    a.close().await;
    b.close().await;
}
