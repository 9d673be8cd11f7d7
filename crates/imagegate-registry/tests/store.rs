//! The registry client, records and lease against a real CNCF distribution registry started
//! by the test (Debian's `docker-registry`, which has no referrers API).

#![expect(clippy::unwrap_used, reason = "a test stops at the first surprise")]

use std::sync::{Arc, Barrier};

use imagegate_registry::auth::Credentials;
use imagegate_registry::lease::{self, LeaseTiming};
use imagegate_registry::records::{self, Descriptor, OCI_MANIFEST, RECORD_SCHEMA, RecordBody, RecordKind};
use imagegate_registry::reference::Reference;
use imagegate_registry::{Client, Connection, ErrorKind, sha256_digest};
use imagegate_testkit::Registry;

fn client(registry: &Registry) -> Client {
    let mut connection = Connection::new(&registry.address());
    connection.plain_http = true;
    Client::new(connection, Credentials::Anonymous).unwrap()
}

/// Pushes a small artifact to be the subject of records; returns its descriptor.
fn subject(client: &Client, repository: &Reference, tag: &str) -> Descriptor {
    records::ensure_empty_blob(client, repository).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.subject",
        "config": Descriptor::empty(),
        "layers": [Descriptor::empty()],
        "annotations": {"tag": tag},
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let digest = client.put_manifest(&repository.with_tag(tag).unwrap(), &bytes, OCI_MANIFEST).unwrap();
    assert_eq!(digest, sha256_digest(&bytes));
    Descriptor {
        media_type: OCI_MANIFEST.to_owned(),
        digest,
        size: bytes.len() as u64,
        artifact_type: None,
        annotations: None,
    }
}

fn verdict_body(candidate: &str) -> RecordBody {
    RecordBody {
        schema: RECORD_SCHEMA.to_owned(),
        kind: RecordKind::Verdict,
        image: "app".to_owned(),
        stable_tag: "acme/app:stable".to_owned(),
        created_at: "2026-12-03T00:00:00Z".to_owned(),
        engine: Some("docker".to_owned()),
        candidate: Some(candidate.to_owned()),
        inputs_digest: Some("sha256:inputs".to_owned()),
        incumbent: None,
        commit: Some("abc".to_owned()),
        decision: Some("pass".to_owned()),
        report: Some(serde_json::json!({"regressions": []})),
        from: None,
        to: None,
        verdict_record: None,
    }
}

#[test]
fn records_are_found_by_their_tags_and_through_the_referrers_fallback() {
    let registry = Registry::anonymous();
    let client = client(&registry);
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    let image = subject(&client, &repository, "one");
    let first = records::write_record(&client, &repository, &image, &verdict_body(&image.digest)).unwrap();
    let mut later = verdict_body(&image.digest);
    later.commit = Some("def".to_owned());
    let second = records::write_record(&client, &repository, &image, &later).unwrap();
    // The same record written twice is one record: records are named by their content.
    let again = records::write_record(&client, &repository, &image, &later).unwrap();
    assert_eq!(again.digest, second.digest);

    let tags = records::record_tags(&client, &repository).unwrap();
    assert_eq!(tags.len(), 3, "{tags:?}");
    assert_eq!(tags[0], first.tag);
    let read = records::read_record(&client, &repository, &first.tag).unwrap().unwrap();
    assert_eq!(read, first);

    // Distribution 2.8 has no referrers API: the tag-schema index lists the records, which
    // oci-client (like oras) finds when the API answers 404.
    assert!(!client.has_referrers_api(&repository));
    let referrers = client.referrers(&repository.with_digest(&image.digest).unwrap()).unwrap();
    let digests: Vec<&str> = referrers.manifests.iter().map(|entry| entry.digest.as_str()).collect();
    assert_eq!(digests, vec![first.digest.as_str(), second.digest.as_str()]);
    assert!(
        referrers
            .manifests
            .iter()
            .all(|entry| entry.artifact_type.as_deref() == Some(RecordKind::Verdict.artifact_type()))
    );
}

#[test]
fn concurrent_record_writers_lose_nothing() {
    const WRITERS: usize = 6;
    let registry = Registry::anonymous();
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    let image = subject(&client(&registry), &repository, "one");
    let barrier = Arc::new(Barrier::new(WRITERS));
    let written: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|index| {
                let barrier = Arc::clone(&barrier);
                let (registry, repository, image) = (&registry, &repository, &image);
                scope.spawn(move || {
                    let client = client(registry);
                    let mut body = verdict_body(&image.digest);
                    body.commit = Some(format!("commit-{index}"));
                    barrier.wait();
                    records::write_record(&client, repository, image, &body).unwrap().digest
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    let client = client(&registry);
    assert_eq!(records::record_tags(&client, &repository).unwrap().len(), WRITERS);
    let referrers = client.referrers(&repository.with_digest(&image.digest).unwrap()).unwrap();
    for digest in &written {
        assert!(referrers.manifests.iter().any(|entry| &entry.digest == digest), "{digest} lost from the index");
    }
}

#[test]
fn the_lease_admits_one_holder_at_a_time() {
    const CONTENDERS: usize = 5;
    let registry = Registry::anonymous();
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    let timing = LeaseTiming {
        lifetime: std::time::Duration::from_secs(30),
        settle: std::time::Duration::from_millis(300),
        patience: std::time::Duration::from_secs(60),
    };
    let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(CONTENDERS));
    std::thread::scope(|scope| {
        for index in 0..CONTENDERS {
            let (inside, most, barrier) = (Arc::clone(&inside), Arc::clone(&most), Arc::clone(&barrier));
            let (registry, repository) = (&registry, &repository);
            scope.spawn(move || {
                let client = client(registry);
                barrier.wait();
                let held = lease::acquire(&client, repository, &format!("holder-{index}"), timing, |_| {
                    Ok::<(), imagegate_registry::RegistryError>(())
                })
                .unwrap();
                let now = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                held.confirm(&client).unwrap();
                std::thread::sleep(std::time::Duration::from_millis(200));
                inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                held.release(&client).unwrap();
            });
        }
    });
    assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 1, "two holders at once");
    let state = lease::read(&client(&registry), &repository).unwrap().unwrap();
    assert!(state.released);
}

#[test]
fn a_held_lease_makes_others_wait_then_give_up() {
    let registry = Registry::anonymous();
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    let client = client(&registry);
    let timing = LeaseTiming {
        lifetime: std::time::Duration::from_secs(60),
        settle: std::time::Duration::from_millis(100),
        patience: std::time::Duration::from_millis(800),
    };
    let _held =
        lease::acquire(&client, &repository, "first", timing, |_| Ok::<(), imagegate_registry::RegistryError>(()))
            .unwrap();
    let mut waits = 0;
    let error = lease::acquire(&client, &repository, "second", timing, |state| {
        assert_eq!(state.holder, "first");
        waits += 1;
        Ok::<(), imagegate_registry::RegistryError>(())
    })
    .unwrap_err();
    assert_eq!(error.kind, ErrorKind::LeaseHeld);
    assert!(waits > 0);
    assert!(error.to_string().contains("first holds it"), "{error}");
}

#[test]
fn an_unreachable_registry_is_retried_then_reported_with_registry_and_operation() {
    let port = imagegate_testkit::free_port();
    let mut connection = Connection::new(&format!("127.0.0.1:{port}"));
    connection.plain_http = true;
    connection.attempts = 3;
    connection.backoff = std::time::Duration::from_millis(10);
    let client = Client::new(connection, Credentials::Anonymous).unwrap();
    let reference = Reference::parse(&format!("127.0.0.1:{port}/t/app:stable")).unwrap();
    let error = client.resolve(&reference).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Network);
    assert_eq!(error.attempts, 3);
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("resolve `127.0.0.1:{port}/t/app:stable` on registry 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("after 3 attempts") && text.contains("hint:"), "{text}");

    // A delete (a raw request, not through oci-client) is retried and reported the same way.
    let digest = format!("sha256:{}", "a".repeat(64));
    let error = client.delete_manifest(&reference, &digest).unwrap_err();
    assert_eq!((error.kind, error.attempts), (ErrorKind::Network, 3));
    let text = error.to_string();
    assert!(text.starts_with(&format!("delete manifest {digest} of `127.0.0.1:{port}/t/app`")), "{text}");
    assert!(text.contains("after 3 attempts") && text.contains("hint:"), "{text}");
}

#[test]
fn deleted_manifests_are_gone_with_their_tags() {
    let registry = Registry::anonymous();
    let client = client(&registry);
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    let image = subject(&client, &repository, "doomed");
    let tag = repository.with_tag("doomed").unwrap();
    assert_eq!(client.resolve(&tag).unwrap().as_deref(), Some(image.digest.as_str()));
    client.delete_manifest(&repository, &image.digest).unwrap();
    assert_eq!(client.resolve(&tag).unwrap(), None);
    // Deleting what is gone is not an error.
    client.delete_manifest(&repository, &image.digest).unwrap();
}

#[test]
fn a_holder_killed_mid_move_leaves_its_intent_to_the_next_holder() {
    let registry = Registry::anonymous();
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    let client = client(&registry);
    let timing = LeaseTiming {
        lifetime: std::time::Duration::from_millis(600),
        settle: std::time::Duration::from_millis(50),
        patience: std::time::Duration::from_secs(10),
    };
    let none = |_: &lease::LeaseState| Ok::<(), imagegate_registry::RegistryError>(());
    let first = lease::acquire(&client, &repository, "first", timing, none).unwrap();
    assert_eq!(first.interrupted, None);
    first.mark_intent(&client, r#"{"to":"sha256:c"}"#).unwrap();
    // Never released: the holder was killed. The next holder gets the intent once it expires.
    drop(first);
    let second = lease::acquire(&client, &repository, "second", timing, none).unwrap();
    let interrupted = second.interrupted.as_ref().expect("the first holder's intent");
    assert_eq!((interrupted.holder.as_str(), interrupted.intent.as_deref()), ("first", Some(r#"{"to":"sha256:c"}"#)));
    // A released lease hands nothing on.
    second.mark_intent(&client, "{}").unwrap();
    second.release(&client).unwrap();
    let third = lease::acquire(&client, &repository, "third", timing, none).unwrap();
    assert_eq!(third.interrupted, None);
}

/// Manifest GETs (Docker Hub counts each as a pull) among the requests served since `before`.
fn manifest_gets(registry: &Registry, before: usize) -> Vec<String> {
    registry
        .requests()
        .into_iter()
        .skip(before)
        .filter(|entry| entry.method == "GET" && entry.path.contains("/manifests/"))
        .map(|entry| format!("{} {}", entry.path, entry.status))
        .collect()
}

#[test]
fn a_missing_tag_is_answered_by_one_head() {
    let registry = Registry::anonymous();
    let client = client(&registry);
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    subject(&client, &repository, "present");
    let before = registry.request_count();
    assert_eq!(client.resolve(&repository.with_tag("absent").unwrap()).unwrap(), None);
    let served: Vec<(String, u16)> =
        registry.requests().into_iter().skip(before).map(|entry| (entry.method, entry.status)).collect();
    assert_eq!(served, [("HEAD".to_owned(), 404)]);
}

#[test]
fn a_manifest_stored_with_a_copy_is_read_back_without_a_manifest_get() {
    let registry = Registry::anonymous();
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    let writer = client(&registry);
    let written = subject(&writer, &repository, "plain");
    let bytes = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
    let copied = repository.with_tag("copied").unwrap();
    let digest = writer.put_manifest_with_copy(&copied, bytes, records::OCI_INDEX).unwrap();

    // Another process: nothing read or written before.
    let reader = client(&registry);
    let before = registry.request_count();
    let found = reader.manifest_via_copy(&copied).unwrap().unwrap();
    assert_eq!((found.bytes.as_slice(), found.digest.as_str()), (bytes.as_slice(), digest.as_str()));
    assert_eq!(found.media_type, records::OCI_INDEX);
    assert_eq!(manifest_gets(&registry, before), Vec::<String>::new());
    assert_eq!(reader.manifest_via_copy(&repository.with_tag("absent").unwrap()).unwrap(), None);
    assert_eq!(manifest_gets(&registry, before), Vec::<String>::new());

    // Without a copy (another tool wrote it) the manifest is read as usual.
    let before = registry.request_count();
    let plain = reader.manifest_via_copy(&repository.with_tag("plain").unwrap()).unwrap().unwrap();
    assert_eq!(plain.digest, written.digest);
    assert_eq!(manifest_gets(&registry, before).len(), 1);
}

#[test]
fn a_released_lease_is_read_without_a_manifest_get() {
    let registry = Registry::anonymous();
    let repository = Reference::parse(&format!("{}/t/app", registry.address())).unwrap();
    let timing = LeaseTiming {
        lifetime: std::time::Duration::from_secs(60),
        settle: std::time::Duration::from_millis(50),
        patience: std::time::Duration::from_secs(10),
    };
    let none = |_: &lease::LeaseState| Ok::<(), imagegate_registry::RegistryError>(());
    let first = client(&registry);
    lease::acquire(&first, &repository, "first", timing, none).unwrap().release(&first).unwrap();

    // The next promoter, in another process, takes and releases it reading no lease manifest.
    let second = client(&registry);
    let before = registry.request_count();
    let state = lease::read(&second, &repository).unwrap().unwrap();
    assert!(state.released && !state.is_live(0), "{state:?}");
    let held = lease::acquire(&second, &repository, "second", timing, none).unwrap();
    assert_eq!(held.interrupted, None);
    held.release(&second).unwrap();
    assert_eq!(manifest_gets(&registry, before), Vec::<String>::new());
    // A lease another holder has is still read whole.
    let _third = lease::acquire(&first, &repository, "third", timing, none).unwrap();
    assert_eq!(lease::read(&second, &repository).unwrap().unwrap().holder, "third");
}
