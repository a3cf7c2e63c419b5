//! How fast the log makes records durable, next to the disk's sync floor
//! (`bench/syncfloor.py`): 256-byte records appended one per batch and sixteen per batch, for
//! a few seconds each, in a directory on the disk under test.
//!
//! `cargo run --release -p clawvault-auditlog --example append_rate -- [DIR] [SECONDS]`

use std::time::{Duration, Instant};

use clawvault_auditlog::Log;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let parent = args.next().unwrap_or_else(|| std::env::temp_dir().display().to_string());
    let seconds: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let dir = tempfile::tempdir_in(parent)?;
    let mut log = Log::open(dir.path(), 1)?.log;
    let record = [0x5au8; 256];
    println!("| batch | p50 per append | records/s |\n|---:|---:|---:|");
    for batch in [1usize, 16] {
        let records: Vec<&[u8]> = vec![&record[..]; batch];
        let mut lat = Vec::new();
        let end = Instant::now() + Duration::from_secs_f64(seconds);
        while Instant::now() < end {
            let t0 = Instant::now();
            log.append(&records)?;
            lat.push(t0.elapsed());
        }
        let total: Duration = lat.iter().sum();
        lat.sort();
        let p50 = lat[lat.len() / 2];
        let rate = (batch * lat.len()) as f64 / total.as_secs_f64();
        println!("| {batch} | {:.3} ms | {rate:.0} |", p50.as_secs_f64() * 1000.0);
    }
    Ok(())
}
