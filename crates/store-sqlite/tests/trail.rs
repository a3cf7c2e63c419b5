//! The audit trail's log beside the database: reads cost no database write, the chain goes on
//! across reopening, and what a crash or an edit leaves behind is repaired and reported, or
//! refused.

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed check

use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use clawvault_auditlog::frame;
use clawvault_core::audit::{AuditEvent, ChainKey, Outcome, Verifier};
use clawvault_core::keyring::SubKey;
use clawvault_core::time_util::now;
use clawvault_store::{AuditBatch, PrincipalKind, Store, VaultRecord};
use clawvault_store_sqlite::{OpenMode, SqliteStore};
use uuid::Uuid;

fn key() -> ChainKey {
    ChainKey::new(SubKey::from_bytes([7; 32]))
}

fn event(action: &str, i: usize) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        created_at: now(),
        action: action.into(),
        outcome: Outcome::Success,
        actor_type: "agent".into(),
        actor_id: format!("agent-{i}"),
        resource_type: "secret".into(),
        resource_id: format!("v/p{i}"),
        vault_id: None,
        ip_address: Some("127.0.0.1".into()),
        details: "{}".into(),
    }
}

fn vault(name: &str) -> VaultRecord {
    VaultRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        description: String::new(),
        created_by: Uuid::new_v4(),
        created_by_type: PrincipalKind::User,
        created_at: now(),
        wrapped_key: vec![1, 2, 3],
        root_key_id: "rk".into(),
    }
}

fn db(dir: &Path) -> PathBuf {
    dir.join("clawvault.sqlite")
}

fn log_dir(dir: &Path) -> PathBuf {
    dir.join("clawvault.sqlite-audit")
}

async fn open(dir: &Path) -> SqliteStore {
    let s = SqliteStore::open(&db(dir), OpenMode::ReadWrite).await.unwrap();
    s.set_chain_key(&key()).await.unwrap();
    s
}

async fn reads(s: &SqliteStore, from: usize, n: usize) {
    let k = key();
    for i in from..from + n {
        s.append_audit(AuditBatch::new(&k, &[event("secret.read", i)])).await.unwrap();
    }
}

/// Verifies the whole chain as `audit verify` does; returns the number of events.
async fn verified(s: &SqliteStore) -> u64 {
    let k = key();
    let mut v = Verifier::from_genesis(&k);
    let mut after = 0;
    loop {
        let page = s.audit_after(after, 100).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            assert!(v.push(e), "chain broken at {}", e.seq);
        }
    }
    let report = v.finish(s.audit_head().await.unwrap().as_ref());
    assert!(report.is_valid(), "{report:?}");
    report.checked
}

fn wal_bytes(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("clawvault.sqlite-wal")).map(|m| m.len()).unwrap_or(0)
}

fn segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<_> = std::fs::read_dir(log_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    segs.pop().unwrap()
}

/// Where the data of the last segment ends.
fn data_end(seg: &Path) -> usize {
    let bytes = std::fs::read(seg).unwrap();
    bytes.iter().rposition(|b| *b != 0).unwrap() + 1
}

#[tokio::test]
async fn an_audited_read_writes_the_log_and_needs_no_database_write() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    s.create_vault(&vault("v"), AuditBatch::new(&key(), &[event("vault.create", 0)])).await.unwrap();
    let seg = segment(dir.path());
    let before = data_end(&seg);
    // Another connection holds SQLite's write lock throughout: a read that needed a database
    // write (as each did before the log: its event's row and the chain head) would wait for it
    // (10 s of busy timeout each). The index catches up once the lock is let go.
    let blocker = rusqlite::Connection::open(db(dir.path())).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let wal = wal_bytes(dir.path());
    tokio::time::timeout(std::time::Duration::from_secs(5), reads(&s, 1, 100))
        .await
        .expect("100 audited reads need no database write");
    assert_eq!(wal_bytes(dir.path()), wal);
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    assert!(data_end(&seg) > before + 100 * 200, "the events are in the log");
    assert_eq!(verified(&s).await, 101);
    // Queries see them (the index is brought up to date first).
    let (_, total) = s.list_audit(&clawvault_store::AuditFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(total, 101);
}

#[tokio::test]
async fn the_chain_goes_on_after_reopening_with_its_tail_unindexed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).await;
        reads(&s, 0, 10).await;
        s.index_audit().await.unwrap();
        reads(&s, 10, 5).await;
        // Dropped without closing: the last five are (most likely) in the log only.
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let s = open(dir.path()).await;
    assert!(s.recovery().is_empty(), "{:?}", s.recovery());
    reads(&s, 15, 5).await;
    assert_eq!(verified(&s).await, 20);
    let (events, total) =
        s.list_audit(&clawvault_store::AuditFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(total, 20);
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_index_emptied_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    reads(&s, 0, 40).await;
    s.close().await;
    drop(s);
    let conn = rusqlite::Connection::open(db(dir.path())).unwrap();
    conn.execute_batch("DELETE FROM audit_events; DELETE FROM audit_head").unwrap();
    drop(conn);
    let s = open(dir.path()).await;
    let by_actor = clawvault_store::AuditFilter {
        actor_id: Some("agent-7".into()),
        limit: 10,
        ..clawvault_store::AuditFilter::default()
    };
    let (events, total) = s.list_audit(&by_actor).await.unwrap();
    assert_eq!((total, events.len()), (1, 1), "filtered queries find the rebuilt events");
    assert_eq!(events[0].event.resource_id, "v/p7");
    assert_eq!(verified(&s).await, 40);
}

/// Events of 1,000 resources, more than two runs of lookups (`audit_query::RUN`) in all.
const RUN_EVENTS: usize = 2 * 16_384 + 500;

#[tokio::test]
async fn filtered_queries_find_events_in_merged_runs_and_after_them_across_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let k = key();
    let all: Vec<AuditEvent> = (0..RUN_EVENTS).map(|i| event("secret.read", i % 1000)).collect();
    for batch in all.chunks(1000) {
        s.append_audit(AuditBatch::new(&k, batch)).await.unwrap();
    }
    runs_and_lookups_agree(&s, dir.path(), "running").await;
    s.close().await;
    drop(s);
    let s = open(dir.path()).await;
    runs_and_lookups_agree(&s, dir.path(), "reopened").await;
}

async fn runs_and_lookups_agree(s: &SqliteStore, dir: &Path, round: &str) {
    let by_resource = clawvault_store::AuditFilter {
        resource_id: Some("v/p7".into()),
        limit: 100,
        newest_first: true,
        ..clawvault_store::AuditFilter::default()
    };
    let expected: Vec<i64> = (1..=RUN_EVENTS as i64).rev().filter(|seq| (seq - 1) % 1000 == 7).collect();
    let (events, total) = s.list_audit(&by_resource).await.unwrap();
    assert_eq!(total, expected.len() as u64, "{round}");
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, expected, "{round}: newest first, from the tail and both runs");
    let conn = rusqlite::Connection::open(db(dir)).unwrap();
    let mut runs = conn.prepare("SELECT run FROM audit_runs ORDER BY run").unwrap();
    let runs: Vec<i64> = runs.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(runs, [0, 16_384], "{round}: two runs merged, the rest scanned");
    let mark: i64 = conn.query_row("SELECT seq FROM audit_indexed", [], |r| r.get(0)).unwrap();
    assert_eq!(mark, 2 * 16_384, "{round}");
}

#[tokio::test]
async fn a_read_only_store_reads_the_log_beyond_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    reads(&s, 0, 12).await;
    let ro = SqliteStore::open(&db(dir.path()), OpenMode::ReadOnly).await.unwrap();
    ro.set_chain_key(&key()).await.unwrap();
    assert_eq!(verified(&ro).await, 12);
    assert_eq!(ro.audit_head().await.unwrap().unwrap().seq, 12);
}

/// Statements that take the events after `seq` out of the index, as if it had not reached them.
fn unindex_after(seq: i64) -> String {
    format!(
        "DELETE FROM audit_events WHERE seq > {seq}; DELETE FROM audit_lookup WHERE seq > {seq}; \
         UPDATE audit_indexed SET seq = MIN(seq, {seq}); DELETE FROM audit_head WHERE seq > {seq}"
    )
}

fn sql(dir: &Path, statements: &str) {
    rusqlite::Connection::open(db(dir)).unwrap().execute_batch(statements).unwrap();
}

#[tokio::test]
async fn a_database_from_before_the_log_is_copied_into_a_new_one_even_if_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    reads(&s, 0, 30).await;
    s.close().await;
    drop(s);
    // A copy cut short (the server stopped during its first start, with events 1 to 20 copied):
    // it goes on where it stopped.
    sql(dir.path(), "UPDATE audit_applied SET log_made = 0");
    cut_last_frames(dir.path(), 10);
    let s = open(dir.path()).await;
    assert_eq!(s.recovery().migrated, 10);
    assert_eq!(verified(&s).await, 30);
    s.close().await;
    drop(s);
    // What a data directory from before the log holds: the events in the database only.
    std::fs::remove_dir_all(log_dir(dir.path())).unwrap();
    sql(dir.path(), "UPDATE audit_applied SET log_made = 0");
    let s = open(dir.path()).await;
    assert_eq!(s.recovery().migrated, 30);
    reads(&s, 30, 3).await;
    assert_eq!(verified(&s).await, 33);
}

/// Zeroes the last `n` frames of the log (each a whole batch here), as a deletion would.
fn cut_last_frames(dir: &Path, n: usize) {
    let seg = segment(dir);
    let bytes = std::fs::read(&seg).unwrap();
    let mut end = data_end(&seg);
    for _ in 0..n {
        let start = find_frame_start(&bytes, end);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .write_all_at(&vec![0u8; end - start], start as u64)
            .unwrap();
        end = start;
    }
}

#[tokio::test]
async fn a_missing_log_is_refused_once_the_database_made_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    reads(&s, 0, 4).await;
    s.close().await;
    drop(s);
    std::fs::remove_dir_all(log_dir(dir.path())).unwrap();
    let err = SqliteStore::open(&db(dir.path()), OpenMode::ReadWrite).await.unwrap_err();
    assert!(err.to_string().contains("is missing"), "{err}");
    assert!(!log_dir(dir.path()).exists(), "nothing made in its place");
}

#[tokio::test]
async fn a_log_cut_below_its_last_committed_write_is_refused_though_not_yet_indexed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).await;
        reads(&s, 0, 3).await;
        s.index_audit().await.unwrap();
        s.create_vault(&vault("v"), AuditBatch::new(&key(), &[event("vault.create", 3)])).await.unwrap();
        reads(&s, 4, 2).await;
        // Dropped without closing.
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    sql(dir.path(), &unindex_after(3));
    cut_last_frames(dir.path(), 3);
    // The write's events are still kept in the database until the log is synced past them and
    // another write comes: whoever cuts the log takes them from there too.
    sql(dir.path(), "DELETE FROM audit_pending");
    let err = SqliteStore::open(&db(dir.path()), OpenMode::ReadWrite).await.unwrap_err();
    assert!(err.to_string().contains("the database committed writes whose events reach 4"), "{err}");
}

/// Events 1 to 3 read, then a batch of writes with events 4 and 5, then the store dropped
/// without closing, as after a crash.
async fn reads_then_a_write_batch_then_a_crash(dir: &Path) {
    {
        let s = open(dir).await;
        reads(&s, 0, 3).await;
        s.create_vault(&vault("v"), AuditBatch::new(&key(), &[event("vault.create", 3), event("vault.extra", 4)]))
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}

fn pending_rows(dir: &Path) -> Vec<(i64, i64)> {
    let conn = rusqlite::Connection::open(db(dir)).unwrap();
    let mut stmt = conn.prepare("SELECT first_seq, last_seq FROM audit_pending ORDER BY last_seq").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

#[tokio::test]
async fn a_committed_batch_of_writes_a_crash_kept_from_the_log_is_written_back() {
    let dir = tempfile::tempdir().unwrap();
    reads_then_a_write_batch_then_a_crash(dir.path()).await;
    assert_eq!(pending_rows(dir.path()), vec![(4, 5)], "the batch's records rode in its transaction");
    // The log's write never reached the disk (it did not wait for it): the frames are gone.
    sql(dir.path(), &unindex_after(3));
    cut_last_frames(dir.path(), 2);
    let s = open(dir.path()).await;
    assert_eq!(s.recovery().restored, Some((4, 5)));
    assert_eq!(s.recovery().torn, None, "a whole batch gone leaves no tear");
    assert!(pending_rows(dir.path()).is_empty(), "written back and synced");
    assert_eq!(verified(&s).await, 5);
    let actions: Vec<String> = s.audit_after(3, 10).await.unwrap().into_iter().map(|e| e.event.action).collect();
    assert_eq!(actions, ["vault.create", "vault.extra"]);
    reads(&s, 5, 2).await;
    assert_eq!(verified(&s).await, 7);
}

#[tokio::test]
async fn an_edited_batch_of_writes_followed_by_others_is_damage_not_a_tear() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path()).await;
        s.create_vault(&vault("a"), AuditBatch::new(&key(), &[event("vault.create", 0)])).await.unwrap();
        // Idle, the writer syncs the log: the next write drops the first one's kept records.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        s.create_vault(&vault("b"), AuditBatch::new(&key(), &[event("vault.create", 1)])).await.unwrap();
        s.create_vault(&vault("c"), AuditBatch::new(&key(), &[event("vault.create", 2)])).await.unwrap();
        s.close().await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!pending_rows(dir.path()).iter().any(|(first, _)| *first == 1));
    // One byte of the first batch's record changed: it reads as torn, with whole batches of
    // writes after it that no crash explains once the database no longer holds the first.
    let seg = segment(dir.path());
    let before = std::fs::read(&seg).unwrap();
    std::fs::OpenOptions::new().write(true).open(&seg).unwrap().write_all_at(b"#", 30).unwrap();
    let edited = std::fs::read(&seg).unwrap();
    assert_ne!(before, edited);
    let err = SqliteStore::open(&db(dir.path()), OpenMode::ReadWrite).await.unwrap_err();
    assert!(err.to_string().contains("damaged at byte 0"), "{err}");
    assert!(std::fs::read(&seg).unwrap() == edited, "nothing cut or written back: the evidence stays");
}

#[tokio::test]
async fn a_batch_of_writes_is_kept_in_the_database_only_until_the_log_is_synced_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    s.create_vault(&vault("a"), AuditBatch::new(&key(), &[event("vault.create", 0)])).await.unwrap();
    assert_eq!(pending_rows(dir.path()), vec![(1, 1)]);
    // A batch of reads syncs the log: the next write drops the row it no longer needs.
    reads(&s, 1, 1).await;
    s.create_vault(&vault("b"), AuditBatch::new(&key(), &[event("vault.create", 2)])).await.unwrap();
    assert_eq!(pending_rows(dir.path()), vec![(3, 3)]);
    // Idle, the writer syncs on its own, and the events reach the index.
    s.index_audit().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    s.index_audit().await.unwrap();
    let indexed: i64 = rusqlite::Connection::open(db(dir.path()))
        .unwrap()
        .query_row("SELECT MAX(seq) FROM audit_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(indexed, 3);
}

/// Queued all at once, the writer never idles between their batches: it still syncs the log
/// every 128 events of writes, so the records kept in the database (and the index's wait) stay
/// short instead of growing towards the log's 1 MiB bound and coming due together.
#[tokio::test]
async fn a_stream_of_writes_that_never_idles_still_syncs_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    let writes: Vec<_> = (0..1000)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let events = [event("vault.create", i)];
                s.create_vault(&vault(&format!("v{i}")), AuditBatch::new(&key(), &events)).await.unwrap();
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    // At most 127 events unsynced before the last batch (of at most 512), and that batch's own.
    let kept: i64 = pending_rows(dir.path()).iter().map(|(first, last)| last - first + 1).sum();
    assert!(kept < 640, "{kept} events kept in the database: the log was not synced while the writer was busy");
}

#[tokio::test]
async fn a_torn_batch_is_cut_reported_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    reads(&s, 0, 5).await;
    let k = key();
    s.append_audit(AuditBatch::new(&k, &[event("secret.read", 5), event("secret.read", 6)])).await.unwrap();
    drop(s);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // The last batch's final bytes never reached the disk.
    let seg = segment(dir.path());
    let end = data_end(&seg);
    std::fs::OpenOptions::new().write(true).open(&seg).unwrap().write_all_at(&[0u8; 3], (end - 3) as u64).unwrap();
    let s = open(dir.path()).await;
    let torn = s.recovery().torn.clone().expect("reported");
    assert_eq!(torn.next_seq, 6, "both events of the torn batch are gone");
    assert!(torn.bytes > 0);
    reads(&s, 7, 2).await;
    assert_eq!(verified(&s).await, 7);
}

#[tokio::test]
async fn a_logged_batch_of_writes_that_never_committed_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    reads_then_a_write_batch_then_a_crash(dir.path()).await;
    let reopened = open(dir.path()).await;
    assert!(reopened.recovery().is_empty(), "a committed batch is not reported: {:?}", reopened.recovery());
    drop(reopened);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // As if the server stopped after logging the batch and before its commit raised the mark
    // (then the indexer cannot have indexed it either: the batch's transaction held the lock).
    sql(dir.path(), &unindex_after(3));
    sql(dir.path(), "UPDATE audit_applied SET seq = 3");
    let s = open(dir.path()).await;
    assert_eq!(s.recovery().uncommitted, Some((4, 5)));
    assert_eq!(verified(&s).await, 5);
}

#[tokio::test]
async fn a_log_cut_below_its_index_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    reads(&s, 0, 6).await;
    s.close().await;
    drop(s);
    // Zero the whole last batch (a deletion that leaves the framing clean).
    cut_last_frames(dir.path(), 1);
    let err = SqliteStore::open(&db(dir.path()), OpenMode::ReadWrite).await.unwrap_err();
    assert!(err.to_string().contains("the log was cut"), "{err}");
    assert!(err.to_string().contains("audit verify"), "{err}");
    let ro = SqliteStore::open(&db(dir.path()), OpenMode::ReadOnly).await.unwrap();
    ro.set_chain_key(&key()).await.unwrap();
    let k = key();
    let mut v = Verifier::from_genesis(&k);
    for e in ro.audit_after(0, 100).await.unwrap() {
        assert!(v.push(&e));
    }
    let report = v.finish(ro.audit_head().await.unwrap().as_ref());
    assert_eq!(report.broken.map(|b| b.reason), Some(clawvault_core::audit::BreakReason::Truncated));
}

/// The start of the last frame before `end`.
fn find_frame_start(bytes: &[u8], end: usize) -> usize {
    (0..end)
        .rev()
        .find(|&p| matches!(frame::decode(&bytes[p..end]), frame::Decoded::Record { len, .. } if p + len == end))
        .unwrap()
}

/// A read that finds the writer free logs its own event on its own thread; others queue for the
/// writer thread. Callers that come alone, in crowds and beside writes (on a runtime with
/// threads of its own, as the server's) still make one chain, with every answered event in it
/// once, in the order each caller made them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reads_logged_alone_and_in_crowds_beside_writes_make_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    // One at a time: each finds the writer free.
    reads(&s, 0, 50).await;
    let callers: Vec<_> = (0..8)
        .map(|c| {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..60 {
                    let n = 1000 * (c + 1) + i;
                    if i % 10 == 0 {
                        let events = [event("vault.create", n)];
                        s.create_vault(&vault(&format!("v{n}")), AuditBatch::new(&key(), &events)).await.unwrap();
                    } else {
                        reads(&s, n, 1).await;
                    }
                    // Pauses of different lengths, so that callers sometimes find the writer free
                    // and sometimes crowd it.
                    let pause = (i * 7 + c * 3) % 5;
                    if pause > 0 {
                        tokio::time::sleep(std::time::Duration::from_micros(300 * pause as u64)).await;
                    }
                }
            })
        })
        .collect();
    for c in callers {
        c.await.unwrap();
    }
    reads(&s, 50, 50).await;
    assert_eq!(verified(&s).await, 100 + 8 * 60);
    let events = s.audit_after(0, 1000).await.unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut last_of = std::collections::HashMap::new();
    for e in &events {
        assert!(seen.insert(e.event.actor_id.clone()), "{} logged twice", e.event.actor_id);
        let n: usize = e.event.actor_id.trim_start_matches("agent-").parse().unwrap();
        let (caller, i) = (n / 1000, n % 1000);
        if caller > 0 {
            let before = last_of.insert(caller, i);
            assert!(before.is_none_or(|b| b < i), "caller {caller}'s events out of order: {before:?} then {i}");
        }
    }
    // Reopened, the log and its index agree.
    drop(s);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let s = open(dir.path()).await;
    assert_eq!(verified(&s).await, 100 + 8 * 60);
}

/// The indexer copies the WAL into the database file behind the writer, so that the writer's
/// commits do not have to (they checkpoint only past 64 MiB of WAL).
#[tokio::test]
async fn the_wal_is_copied_into_the_database_file_behind_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path()).await;
    reads(&s, 0, 3_000).await;
    s.index_audit().await.unwrap();
    let conn = rusqlite::Connection::open(db(dir.path())).unwrap();
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    let size = u64::try_from(pages * page_size).unwrap();
    drop(conn);
    let copied = || std::fs::metadata(db(dir.path())).unwrap().len() >= size;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !copied() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(copied(), "the database file still lacks pages that are only in the WAL");
    assert!(wal_bytes(dir.path()) > 0, "copied by a background checkpoint, not by closing");
    s.close().await;
}
