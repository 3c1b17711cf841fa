//! Conformance: uploads, attachments, who reads them, the media and links
//! lists, and the sweep of unattached uploads (protocol.md §10).

use super::*;
use crate::*;
use parley_domain::DomainError;
use parley_domain::media::{MediaRow, NO_SUCH_MEDIA};
use parley_protocol::MediaKind;

/// Every check of this area, each on a fresh store.
pub async fn run(factory: &Factory) {
    attaching_grants_and_deleting_revokes_access(factory).await;
    only_the_uploader_may_attach(factory).await;
    lists_are_newest_first_in_attachment_order_and_paginate(factory).await;
    links_follow_text_edits_and_deletes(factory).await;
    unattached_uploads_are_swept(factory).await;
    only_the_owners_public_upload_is_retired_as_an_avatar(factory).await;
}

pub async fn only_the_owners_public_upload_is_retired_as_an_avatar(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["owner", "other"]).await;
    let mut avatar = upload(&u[0], MediaKind::Image, Timestamp::now().millis());
    avatar.public = true;
    let avatar_id = avatar.id.clone();
    f.store.create_media(avatar).await.expect("create");
    let private = uploaded(&f, &u[0], MediaKind::Image).await;
    assert!(
        !f.store
            .retire_avatar(&u[1], &avatar_id)
            .await
            .expect("retire"),
        "not someone else's"
    );
    assert!(
        !f.store
            .retire_avatar(&u[0], &private)
            .await
            .expect("retire"),
        "not a private upload"
    );
    assert!(readable(&f, &u[1], &avatar_id).await, "still public");
    assert!(readable(&f, &u[0], &private).await, "still the owner's");
    assert!(
        f.store
            .retire_avatar(&u[0], &avatar_id)
            .await
            .expect("retire")
    );
    assert!(!readable(&f, &u[1], &avatar_id).await, "gone for everyone");
    assert!(
        f.store
            .removed_media(100)
            .await
            .expect("removed")
            .contains(&avatar_id),
        "its bytes go with the next sweep"
    );
    assert!(
        !f.store
            .retire_avatar(&u[0], &avatar_id)
            .await
            .expect("retire"),
        "once"
    );
}

fn upload(uploader: &str, kind: MediaKind, created_at: i64) -> MediaRow {
    MediaRow {
        id: new_id(),
        uploader_id: uploader.to_string(),
        kind,
        mime: match kind {
            MediaKind::Image => "image/png",
            MediaKind::Video => "video/mp4",
            MediaKind::Audio => "audio/mpeg",
            MediaKind::File => "application/pdf",
        }
        .to_string(),
        size: 1234,
        name: "n.bin".into(),
        width: (kind == MediaKind::Image).then_some(40),
        height: (kind == MediaKind::Image).then_some(20),
        duration_ms: (kind == MediaKind::Video).then_some(5000),
        thumbnail: (kind == MediaKind::Image).then(|| parley_domain::media::Thumbnail {
            mime: "image/jpeg".into(),
            size: 100,
        }),
        public: false,
        removed: false,
        created_at,
    }
}

async fn uploaded(f: &Fixture, uploader: &str, kind: MediaKind) -> String {
    let row = upload(uploader, kind, Timestamp::now().millis());
    let id = row.id.clone();
    f.store.create_media(row).await.expect("create media");
    id
}

fn with_media(conv: &str, sender: &str, client_id: &str, ids: &[&str]) -> NewMessage {
    let mut m = text(conv, sender, client_id, "caption");
    m.kind = parley_protocol::MessageKind::Media;
    m.attachments = ids.iter().map(|s| s.to_string()).collect();
    m
}

async fn readable(f: &Fixture, viewer: &str, id: &str) -> bool {
    let facts = f.store.media_read_facts(viewer, id).await.expect("facts");
    parley_domain::media::can_read(viewer, facts).is_ok()
}

pub async fn attaching_grants_and_deleting_revokes_access(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["up", "peer", "outsider", "late"]).await;
    let g = group(&f, &u[0], &u[1..2]).await;
    let img = uploaded(&f, &u[0], MediaKind::Image).await;
    assert!(
        readable(&f, &u[0], &img).await,
        "the uploader reads their upload"
    );
    assert!(
        !readable(&f, &u[1], &img).await,
        "nobody else before it is attached"
    );
    assert!(!readable(&f, &u[0], "no-such-id").await);

    let (m, created) = f
        .store
        .send_message(with_media(&g, &u[0], "m1", &[&img]), None)
        .await
        .expect("send with attachment");
    assert!(created);
    assert_eq!(m.kind, parley_protocol::MessageKind::Media);
    assert_eq!(
        m.attachments.len(),
        1,
        "the message carries the media object"
    );
    assert_eq!(m.attachments[0]["id"], img.as_str());
    assert_eq!(m.attachments[0]["kind"], "image");
    assert_eq!(m.attachments[0]["width"], 40);
    let (again, created) = f
        .store
        .send_message(with_media(&g, &u[0], "m1", &[&img]), None)
        .await
        .expect("retry");
    assert!(
        !created && again.id == m.id,
        "a retry attaches nothing more"
    );
    let read = f.store.message(&u[1], &m.id).await.expect("history view");
    assert_eq!(
        read.attachments, m.attachments,
        "every view carries the attachments"
    );

    assert!(
        readable(&f, &u[1], &img).await,
        "a member who can see the message reads it"
    );
    assert!(!readable(&f, &u[2], &img).await, "a non-member does not");
    f.store
        .add_members(&u[0], &g, &u[3..4], 100, Timestamp::now())
        .await
        .expect("add late");
    assert!(
        !readable(&f, &u[3], &img).await,
        "a member who joined after the message does not"
    );

    // A second message attaching the same upload keeps it readable when
    // the first is deleted.
    let (m2, _) = f
        .store
        .send_message(with_media(&g, &u[0], "m2", &[&img]), None)
        .await
        .expect("attach again");
    assert!(
        readable(&f, &u[3], &img).await,
        "the late member sees the second message"
    );
    f.store
        .delete_message(&u[0], &m2.id, Timestamp::now())
        .await
        .expect("delete m2");
    assert!(
        !readable(&f, &u[3], &img).await,
        "deleting detaches at once"
    );
    assert!(
        readable(&f, &u[1], &img).await,
        "the first message still attaches it"
    );
    let tomb = f
        .store
        .delete_message(&u[0], &m.id, Timestamp::now())
        .await
        .expect("delete m1");
    assert!(
        tomb.attachments.is_empty(),
        "a tombstone has no attachments"
    );
    assert!(!readable(&f, &u[1], &img).await, "others lose access");
    assert!(readable(&f, &u[0], &img).await, "the uploader keeps it");

    // A member who left loses access; an admin delete removes the media
    // for everyone.
    let other = uploaded(&f, &u[0], MediaKind::File).await;
    let (m3, _) = f
        .store
        .send_message(with_media(&g, &u[0], "m3", &[&other]), None)
        .await
        .expect("send file");
    assert!(readable(&f, &u[1], &other).await);
    f.store
        .remove_member(&u[1], &g, &u[1], Timestamp::now())
        .await
        .expect("leave");
    assert!(
        !readable(&f, &u[1], &other).await,
        "a former member reads nothing"
    );
    f.store
        .admin_delete_message(&u[2], &m3.id, Timestamp::now())
        .await
        .expect("admin delete");
    assert!(
        !readable(&f, &u[0], &other).await,
        "an admin delete removes it for the uploader too"
    );
    assert!(!readable(&f, &u[3], &other).await);
}

pub async fn only_the_uploader_may_attach(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["ua", "ub"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let theirs = uploaded(&f, &u[1], MediaKind::Image).await;
    let mine = uploaded(&f, &u[0], MediaKind::Image).await;
    for ids in [
        vec![theirs.as_str()],
        vec![mine.as_str(), theirs.as_str()],
        vec!["nope"],
    ] {
        let r = f
            .store
            .send_message(with_media(&g, &u[0], "x", &ids), None)
            .await;
        assert!(
            matches!(r, Err(StoreError::Domain(ref e)) if *e == NO_SUCH_MEDIA),
            "attaching {ids:?} is refused: {r:?}"
        );
    }
    let page = f
        .store
        .messages(&u[0], &g, HistoryPage::Latest, 50)
        .await
        .expect("history");
    assert!(
        page.messages
            .iter()
            .all(|m| m.client_id.as_deref() != Some("x")),
        "a refused send stores nothing"
    );
    // A non-member learns nothing about the media.
    let h = group(&f, &u[1], &[]).await;
    let r = f
        .store
        .send_message(with_media(&h, &u[0], "y", &[&mine]), None)
        .await;
    assert!(
        matches!(
            r,
            Err(StoreError::Domain(DomainError::NotFound("conversation")))
        ),
        "{r:?}"
    );
    // The order asked is the order kept.
    let (m, _) = f
        .store
        .send_message(with_media(&g, &u[1], "ok", &[&theirs]), None)
        .await
        .expect("their own");
    assert_eq!(m.attachments[0]["id"], theirs.as_str());
}

pub async fn lists_are_newest_first_in_attachment_order_and_paginate(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["la", "lb", "lc"]).await;
    let g = group(&f, &u[0], &u[1..2]).await;
    let (a, b) = (
        uploaded(&f, &u[0], MediaKind::Image).await,
        uploaded(&f, &u[0], MediaKind::Video).await,
    );
    let c = uploaded(&f, &u[0], MediaKind::File).await;
    let d = uploaded(&f, &u[1], MediaKind::Image).await;
    let (m1, _) = f
        .store
        .send_message(with_media(&g, &u[0], "l1", &[&a, &b, &c]), None)
        .await
        .expect("m1");
    let (m2, _) = f
        .store
        .send_message(with_media(&g, &u[1], "l2", &[&d]), None)
        .await
        .expect("m2");
    let visual = [MediaKind::Image, MediaKind::Video];
    let all = f
        .store
        .conversation_media(&u[0], &g, &visual, None, 10)
        .await
        .expect("list");
    let ids: Vec<&str> = all.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![d.as_str(), a.as_str(), b.as_str()],
        "newest message first, attachment order kept"
    );
    assert_eq!(all.next, None);
    assert_eq!(all.items[0].message_id, m2.id);
    assert_eq!(all.items[0].seq, m2.seq);
    assert_eq!(all.items[0].sender_id, u[1]);
    assert_eq!(
        all.items[1].created_at, m1.created_at,
        "created_at is the message's"
    );
    // Pages of one.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let p = f
            .store
            .conversation_media(&u[0], &g, &visual, cursor, 1)
            .await
            .expect("page");
        seen.extend(p.items.iter().map(|i| i.id.clone()));
        match p.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![d.clone(), a.clone(), b.clone()],
        "pages cover the list once"
    );
    let files = f
        .store
        .conversation_media(&u[0], &g, &[MediaKind::File], None, 10)
        .await
        .expect("files");
    assert_eq!(
        files
            .items
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        vec![c.as_str()]
    );
    assert!(
        matches!(
            f.store
                .conversation_media(&u[2], &g, &visual, None, 10)
                .await,
            Err(StoreError::Domain(DomainError::NotFound("conversation")))
        ),
        "non-members get not_found"
    );
    f.store
        .add_members(&u[0], &g, &u[2..3], 100, Timestamp::now())
        .await
        .expect("add");
    let late = f
        .store
        .conversation_media(&u[2], &g, &visual, None, 10)
        .await
        .expect("late list");
    assert!(
        late.items.is_empty(),
        "history before joining is not listed"
    );
    f.store
        .delete_message(&u[1], &m2.id, Timestamp::now())
        .await
        .expect("delete");
    let after = f
        .store
        .conversation_media(&u[0], &g, &visual, None, 10)
        .await
        .expect("after delete");
    assert_eq!(
        after
            .items
            .iter()
            .map(|i| i.id.as_str())
            .collect::<Vec<_>>(),
        vec![a.as_str(), b.as_str()],
        "deleted messages are not listed"
    );
}

pub async fn links_follow_text_edits_and_deletes(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["ka", "kb"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let (m1, _) = f
        .store
        .send_message(
            text(
                &g,
                &u[0],
                "k1",
                "see https://a.example/x. and (https://b.example) https://a.example/x",
            ),
            None,
        )
        .await
        .expect("m1");
    let (m2, _) = f
        .store
        .send_message(text(&g, &u[1], "k2", "http://c.example/p?q=1"), None)
        .await
        .expect("m2");
    let urls = |p: &ListPage<parley_protocol::media::LinkItem>| {
        p.items.iter().map(|l| l.url.clone()).collect::<Vec<_>>()
    };
    let page = f
        .store
        .conversation_links(&u[1], &g, None, 10)
        .await
        .expect("links");
    assert_eq!(
        urls(&page),
        vec![
            "http://c.example/p?q=1",
            "https://a.example/x",
            "https://b.example"
        ],
        "newest first, each once, in order"
    );
    assert_eq!(page.items[0].message_id, m2.id);
    assert_eq!(page.items[1].sender_id, u[0]);
    let first = f
        .store
        .conversation_links(&u[1], &g, None, 2)
        .await
        .expect("page 1");
    let rest = f
        .store
        .conversation_links(&u[1], &g, first.next, 2)
        .await
        .expect("page 2");
    assert_eq!(urls(&first).len(), 2);
    assert_eq!(urls(&rest), vec!["https://b.example"]);
    assert_eq!(rest.next, None);
    f.store
        .edit_message(
            &u[0],
            &m1.id,
            "now https://d.example only",
            60_000,
            Timestamp::now(),
        )
        .await
        .expect("edit");
    f.store
        .delete_message(&u[1], &m2.id, Timestamp::now())
        .await
        .expect("delete");
    let page = f
        .store
        .conversation_links(&u[0], &g, None, 10)
        .await
        .expect("links");
    assert_eq!(
        urls(&page),
        vec!["https://d.example"],
        "an edit replaces, a delete removes"
    );
}

pub async fn unattached_uploads_are_swept(factory: &Factory) {
    let f = fresh(factory).await;
    let u = users(&f.store, &["sa", "sb"]).await;
    let g = group(&f, &u[0], &u[1..]).await;
    let day_ago = Timestamp::now().millis() - 25 * 3600 * 1000;
    let old = upload(&u[0], MediaKind::Image, day_ago);
    let old_attached = upload(&u[0], MediaKind::Image, day_ago);
    let mut avatar = upload(&u[0], MediaKind::Image, day_ago);
    avatar.public = true;
    let fresh_one = uploaded(&f, &u[0], MediaKind::File).await;
    for row in [&old, &old_attached, &avatar] {
        f.store.create_media(row.clone()).await.expect("create");
    }
    f.store
        .send_message(with_media(&g, &u[0], "s1", &[&old_attached.id]), None)
        .await
        .expect("attach");
    let cutoff = Timestamp(Timestamp::now().millis() - 24 * 3600 * 1000);
    let marked = f
        .store
        .expire_unattached(cutoff, 100)
        .await
        .expect("expire");
    assert_eq!(marked, 1, "only the old unattached upload goes");
    assert!(
        !readable(&f, &u[0], &old.id).await,
        "an expired upload is gone at once"
    );
    assert!(readable(&f, &u[0], &old_attached.id).await);
    assert!(
        readable(&f, &u[1], &avatar.id).await,
        "avatars stay (and anyone reads them)"
    );
    assert!(readable(&f, &u[0], &fresh_one).await);
    let removed = f.store.removed_media(100).await.expect("removed");
    assert_eq!(removed, vec![old.id.clone()]);
    f.store.purge_media(&removed).await.expect("purge");
    assert!(f.store.removed_media(100).await.expect("again").is_empty());
    assert_eq!(
        f.store
            .expire_unattached(cutoff, 100)
            .await
            .expect("repeat"),
        0
    );
    let attach_gone = f
        .store
        .send_message(with_media(&g, &u[0], "s2", &[&old.id]), None)
        .await;
    assert!(
        matches!(attach_gone, Err(StoreError::Domain(ref e)) if *e == NO_SUCH_MEDIA),
        "a swept upload cannot be attached"
    );
}
