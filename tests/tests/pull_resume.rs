//! Scenario 6: a pull broken half-way (the owner stops mid-transfer) resumes from the chunks
//! already verified once the owner is back, and ends with the exact content.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use datapact_node::network::fetch::CHECKPOINT_CHUNKS;
use datapact_node::ops::pull;
use datapact_protocol::CHUNK_SIZE;
use datapact_tests::{DEADLINE, Federation, pseudo_random, sha256_hex};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_pull_resumes_from_verified_chunks() {
    let mut fed = Federation::new(&["THA", "MMR"]).await;
    // 48 MiB. The receiver makes its progress durable every CHECKPOINT_CHUNKS chunks (32 MiB),
    // so the break comes just after the first checkpoint: past half of the content, and with
    // something durable to resume from.
    let size = (CHECKPOINT_CHUNKS + 16) * CHUNK_SIZE;
    let break_at = CHECKPOINT_CHUNKS * CHUNK_SIZE;
    let content = pseudo_random(usize::try_from(size).unwrap(), 6);
    let file = fed["THA"].write_file("border-crossings.bin", &content);
    let id = fed["THA"]
        .release(&file, "border-crossings", "public")
        .await
        .id;
    // Resuming needs the announcement beforehand: it fixes the chunk digests.
    fed["MMR"].wait_entry(&id).await;

    // First pull: when its progress passes `break_at`, it is held in its progress callback
    // while the owner stops, so the transfer surely breaks before the end.
    let (reached_tx, reached_rx) = tokio::sync::oneshot::channel::<u64>();
    let (go_on_tx, go_on_rx) = std::sync::mpsc::channel::<()>();
    let first = {
        let ctx = fed["MMR"].ctx().clone();
        let id = id.clone();
        // In a mutex: the pull shares its progress callback across threads.
        let go_on_rx = std::sync::Mutex::new(go_on_rx);
        tokio::spawn(async move {
            let mut reached = Some(reached_tx);
            let mut last = 0;
            let result = pull::pull(&ctx, &id, None, |done, _total| {
                last = done;
                if done >= break_at
                    && let Some(tx) = reached.take()
                {
                    let _ = tx.send(done);
                    // Blocks only this pull's worker thread (tokio moves other tasks away).
                    let resumed = tokio::task::block_in_place(|| {
                        go_on_rx.lock().unwrap().recv_timeout(DEADLINE)
                    });
                    assert!(resumed.is_ok(), "the test did not release the first pull");
                }
            })
            .await;
            (result.map_err(|e| e.to_string()), last)
        })
    };
    let held_at = tokio::time::timeout(DEADLINE, reached_rx)
        .await
        .expect("the first pull did not pass the break point in time")
        .expect("the first pull ended before the break point");
    fed.stop("THA").await;
    go_on_tx.send(()).expect("first pull waiting");
    let (result, last) = tokio::time::timeout(DEADLINE, first)
        .await
        .expect("the first pull did not end after the owner stopped")
        .expect("first pull task");
    let error = match result {
        Ok(r) => panic!(
            "the first pull completed although the owner stopped at {held_at} of {size} bytes: {r:?}"
        ),
        Err(e) => e,
    };
    assert!(last < size, "{last} of {size}");
    eprintln!("first pull broke after {last} of {size} bytes: {error}");

    // The owner comes back on a new port; MMR's roster learns it.
    fed.restart("THA").await;
    let mmr = &fed["MMR"];
    let out = mmr.out_path("border-crossings.bin");
    let mut first_report = None;
    let mut reports = 0u32;
    let second = pull::pull(
        mmr.ctx(),
        &id,
        Some(out.display().to_string()),
        |done, _| {
            first_report.get_or_insert(done);
            reports += 1;
        },
    );
    let result = tokio::time::timeout(DEADLINE, second)
        .await
        .expect("the second pull did not end in time")
        .unwrap_or_else(|e| panic!("the second pull failed: {e}"));
    let first_report = first_report.expect("the second pull reported progress");
    assert!(
        first_report > 0,
        "the second pull started from scratch instead of resuming"
    );
    assert!(
        first_report <= last && first_report.is_multiple_of(CHUNK_SIZE),
        "resumed at {first_report}, after having received {last}"
    );
    eprintln!("second pull resumed at {first_report} of {size} bytes ({reports} reports)");
    let expected_sha = sha256_hex(&content);
    assert_eq!(result.sha256, expected_sha);
    assert_eq!(result.size, size);
    let pulled = std::fs::read(&out).expect("read pulled content");
    assert_eq!(pulled.len(), content.len());
    assert!(pulled == content, "pulled content differs");
    assert_eq!(sha256_hex(&pulled), expected_sha);
    let held = mmr.dataset(&id).await.expect("listed");
    assert!(held.has_content);
    fed.shutdown().await;
}
