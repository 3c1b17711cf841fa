//! Who reacted (docs/protocol.md deviation 44): per emoji, in order, for
//! readers only, on both backends.

use crate::helpers::*;

on_both_backends!(who_reacted_per_emoji_for_readers_only);

async fn who_reacted_per_emoji_for_readers_only(backend: Backend) {
    let app = spawn_on(backend).await;
    let (a, au) = app.user("wr_a").await;
    let (b, bu) = app.user("wr_b").await;
    let (c, cu) = app.user("wr_c").await;
    let (outsider, _) = app.user("wr_out").await;
    let g = a
        .create_group("reactions", &[bu.id.clone(), cu.id.clone()])
        .await
        .expect("group");
    let m = a.send_text(&g.id, "react to me").await.expect("send");
    b.add_reaction(&m.id, "👍").await.expect("react");
    c.add_reaction(&m.id, "❤️").await.expect("react");
    c.add_reaction(&m.id, "👍").await.expect("react");
    a.add_reaction(&m.id, "👍").await.expect("react");
    let list = a.reactors(&m.id).await.expect("who");
    assert_eq!(list.message_id, m.id);
    let shape: Vec<(String, u64, bool, Vec<String>)> = list
        .reactions
        .iter()
        .map(|r| (r.emoji.clone(), r.count, r.me, r.user_ids.clone()))
        .collect();
    assert_eq!(
        shape,
        vec![
            (
                "👍".into(),
                3,
                true,
                vec![bu.id.clone(), cu.id.clone(), au.id.clone()]
            ),
            ("❤️".into(), 1, false, vec![cu.id.clone()]),
        ],
        "emoji in order of first use, people in the order they reacted"
    );
    b.remove_reaction(&m.id, "👍").await.expect("unreact");
    let after = c.reactors(&m.id).await.expect("who");
    let thumbs = after
        .reactions
        .iter()
        .find(|r| r.emoji == "👍")
        .expect("👍 still there");
    assert_eq!(thumbs.user_ids, vec![cu.id.clone(), au.id.clone()]);
    assert!(thumbs.me && thumbs.count == 2);
    assert_eq!(
        after.reactions[0].emoji, "❤️",
        "❤️ is now the emoji first used among those standing"
    );
    assert_code(outsider.reactors(&m.id).await, "not_found");
    assert_code(a.reactors("not-an-id").await, "not_found");
}
