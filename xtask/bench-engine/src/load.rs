//! What the load clients share: many clients at once, each on a connection of
//! its own, asking one request after another for a while, and one JSON line
//! of what they saw: `done`, `errors`, `latencies_ms`, `elapsed_s`,
//! `first_error`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One protocol's request, on a connection it opens when there is none.
pub trait Asker: Clone + Send + 'static {
    /// An open connection.
    type Connection: Send;

    /// One request on `connection`, opened first if it is `None`, read to the end.
    fn ask(
        &self,
        connection: &mut Option<Self::Connection>,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// What the clients saw together.
#[derive(Default)]
struct Seen {
    latencies_ms: Vec<f64>,
    errors: usize,
    first_error: Option<String>,
}

/// Runs `clients` clients of `asker` for `duration` and prints what they saw.
pub fn drive(asker: impl Asker, clients: usize, duration: Duration) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let started = Instant::now();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (asker, seen) = (asker.clone(), Arc::clone(&seen));
            tasks.push(tokio::spawn(async move {
                let mut mine = Seen::default();
                let mut connection = None;
                while started.elapsed() < duration {
                    let sent = Instant::now();
                    match asker.ask(&mut connection).await {
                        Ok(()) => mine.latencies_ms.push(sent.elapsed().as_secs_f64() * 1e3),
                        Err(error) => {
                            mine.errors += 1;
                            mine.first_error.get_or_insert(format!("{error:#}"));
                            // A broken connection is opened again on the next request.
                            connection = None;
                        }
                    }
                }
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                seen.latencies_ms.extend(mine.latencies_ms);
                seen.errors += mine.errors;
                if seen.first_error.is_none() {
                    seen.first_error = mine.first_error;
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
    let elapsed = started.elapsed();
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner());
    println!(
        "{}",
        serde_json::json!({
            "done": seen.latencies_ms.len(),
            "errors": seen.errors,
            "latencies_ms": seen.latencies_ms,
            "elapsed_s": elapsed.as_secs_f64(),
            "first_error": seen.first_error,
        })
    );
    Ok(())
}
