//! `codelake local up|down|status`: the embedded environment, kept running for other tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use catalog_env::config::Config;
use catalog_env::local::{
    LOCAL_ACCESS_KEY_ID, LOCAL_BUCKET, LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY, LocalEnvironment,
    LocalState, process_alive, read_state, state_path,
};

use crate::Global;
use crate::error::{CliError, EXIT_CONFIG, EXIT_ENVIRONMENT, EXIT_FAILED};
use crate::session;

fn embedded_config(global: &Global) -> Result<Config, CliError> {
    let config = session::config(global)?;
    if !config.embedded {
        return Err(CliError::msg(
            EXIT_CONFIG,
            format!(
                "profile `{}` is not embedded: its servers run elsewhere, so there is nothing to start or stop",
                config.profile
            ),
        )
        .hint("use `--env local` (or unset CODELAKE_ENV)"));
    }
    Ok(config)
}

/// Starts the local environment, in the background unless `foreground`,
/// and `workers` local workers beside it (`codelake worker` processes).
pub async fn up(global: &Global, foreground: bool, workers: usize) -> Result<(), CliError> {
    let config = embedded_config(global)?;
    up_environment(global, &config, foreground).await?;
    if workers > 0 {
        start_workers(global, &config, workers).await?;
    }
    Ok(())
}

async fn up_environment(
    global: &Global,
    config: &Config,
    foreground: bool,
) -> Result<(), CliError> {
    if let Some(running) = LocalEnvironment::attach(&config.data_dir) {
        eprintln!("Already running.");
        print_state(&config.data_dir, running.state());
        return Ok(());
    }
    if foreground {
        return serve(config).await;
    }
    std::fs::create_dir_all(&config.data_dir).map_err(|error| {
        CliError::environment(error).hint(format!("cannot create {}", config.data_dir.display()))
    })?;
    // One `local up` at a time per data directory: a second one waits here,
    // then finds the first one's environment running, instead of starting
    // servers of its own and writing into the same log.
    let lock_path = config.data_dir.join("local.lock");
    let _lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let file = std::fs::File::create(&lock_path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(CliError::environment)?
    .map_err(CliError::environment)?;
    if let Some(running) = LocalEnvironment::attach(&config.data_dir) {
        eprintln!("Already running.");
        print_state(&config.data_dir, running.state());
        return Ok(());
    }
    let log_path = config.data_dir.join("local.log");
    let log = std::fs::File::create(&log_path).map_err(CliError::environment)?;
    let mut child = child_command(global, config)?
        .args(["local", "up", "--foreground"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(CliError::environment)?)
        .stderr(log)
        .spawn()
        .map_err(CliError::environment)?;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(15) {
        if let Some(state) = read_state(&config.data_dir)
            && state.pid == child.id()
        {
            print_state(&config.data_dir, &state);
            return Ok(());
        }
        if let Ok(Some(_)) = child.try_wait() {
            break; // it exited: the log says why
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Never leave a server that nothing records.
    let _ = child.kill();
    let _ = child.wait();
    Err(CliError::msg(
        EXIT_ENVIRONMENT,
        "the local environment did not come up".to_owned(),
    )
    .hint(format!("its log is {}", log_path.display())))
}

/// A worker `local up --workers N` started.
#[derive(Debug, Clone)]
pub struct LocalWorker {
    /// Its number, from 1.
    pub index: usize,
    /// Its process.
    pub pid: u32,
    /// Where it listens, `http://127.0.0.1:PORT`.
    pub url: String,
}

fn workers_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("workers")
}

/// The local workers that still run: recorded, their process alive, their port answering.
pub fn running_workers(data_dir: &Path) -> Vec<LocalWorker> {
    let mut workers = Vec::new();
    let Ok(entries) = std::fs::read_dir(workers_dir(data_dir)) else {
        return workers;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|extension| extension != "pid") {
            continue;
        }
        let Some(index) = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .and_then(|stem| stem.parse::<usize>().ok())
        else {
            continue;
        };
        let pid = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok());
        let url = std::fs::read_to_string(crate::cluster::record_path(data_dir, index))
            .ok()
            .map(|text| text.trim().to_owned());
        if let (Some(pid), Some(url)) = (pid, url)
            && process_alive(pid)
            && answers(&url)
        {
            workers.push(LocalWorker { index, pid, url });
        }
    }
    workers.sort_by_key(|worker| worker.index);
    workers
}

/// Whether something accepts connections at `url`'s address.
fn answers(url: &str) -> bool {
    let address = url.trim_start_matches("http://").trim_end_matches('/');
    address
        .parse::<std::net::SocketAddr>()
        .is_ok_and(|address| {
            std::net::TcpStream::connect_timeout(&address, Duration::from_millis(300)).is_ok()
        })
}

/// A `codelake` child process for the same data directory, profile, config
/// file and plugin directory as this one.
fn child_command(global: &Global, config: &Config) -> Result<Command, CliError> {
    let mut command = Command::new(std::env::current_exe().map_err(CliError::environment)?);
    command
        .arg("--data-dir")
        .arg(&config.data_dir)
        .arg("--env")
        .arg(&config.profile);
    if let Some(file) = &config.file {
        command.arg("--config").arg(file);
    }
    if let Some(dir) = &global.plugin_dir {
        command.arg("--plugin-dir").arg(dir);
    }
    Ok(command)
}

/// Where `local up --workers` keeps the token its workers require, readable
/// by this user only; `--workers local` presents it.
pub fn worker_token_path(data_dir: &Path) -> PathBuf {
    workers_dir(data_dir).join("token")
}

/// The token the local workers require: CODELAKE_WORKER_TOKEN when set,
/// else the one kept in [`worker_token_path`], made on first use. Either way
/// the file holds the token in use, so `--workers local` finds it. So even on
/// loopback, another user's process cannot hand the workers plans.
fn local_worker_token(config: &Config) -> Result<String, CliError> {
    let path = worker_token_path(&config.data_dir);
    let kept = std::fs::read_to_string(&path)
        .ok()
        .map(|token| token.trim().to_owned())
        .filter(|token| !token.is_empty());
    let token = match (&config.worker_token, kept) {
        (Some(secret), Some(kept)) if kept == secret.expose() => return Ok(kept),
        (Some(secret), _) => secret.expose().to_owned(),
        (None, Some(kept)) => return Ok(kept),
        (None, None) => catalog_serve::Tokens::generate().map_err(|error| {
            CliError::msg(
                EXIT_ENVIRONMENT,
                format!("cannot make a token for the local workers: {error}"),
            )
        })?,
    };
    crate::serve::write_private(&path, &token).map_err(|error| {
        CliError::environment(error).hint(format!("cannot write {}", path.display()))
    })?;
    Ok(token)
}

/// Starts local workers until `count` run, each a `codelake worker` on a free
/// loopback port requiring the local worker token. If one fails to start,
/// those this call started are stopped again.
async fn start_workers(global: &Global, config: &Config, count: usize) -> Result<(), CliError> {
    let dir = workers_dir(&config.data_dir);
    std::fs::create_dir_all(&dir).map_err(CliError::environment)?;
    let token = local_worker_token(config)?;
    let running = running_workers(&config.data_dir);
    let mut started: Vec<(usize, std::process::Child, PathBuf, PathBuf)> = Vec::new();
    let stop = |started: &mut Vec<(usize, std::process::Child, PathBuf, PathBuf)>| {
        for (index, child, address_file, _) in started.iter_mut() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(address_file);
            let _ = std::fs::remove_file(dir.join(format!("{index}.pid")));
        }
    };
    for index in 1..=count {
        if running.iter().any(|worker| worker.index == index) {
            continue;
        }
        let address_file = crate::cluster::record_path(&config.data_dir, index);
        let _ = std::fs::remove_file(&address_file);
        let log_path = dir.join(format!("{index}.log"));
        let spawned = (|| -> Result<std::process::Child, CliError> {
            let log = std::fs::File::create(&log_path).map_err(CliError::environment)?;
            let child = child_command(global, config)?
                .args(["worker", "--listen", "127.0.0.1:0", "--address-file"])
                .arg(&address_file)
                .env("CODELAKE_WORKER_TOKEN", &token)
                .stdin(Stdio::null())
                .stdout(log.try_clone().map_err(CliError::environment)?)
                .stderr(log)
                .spawn()
                .map_err(CliError::environment)?;
            std::fs::write(dir.join(format!("{index}.pid")), child.id().to_string())
                .map_err(CliError::environment)?;
            Ok(child)
        })();
        match spawned {
            Ok(child) => started.push((index, child, address_file, log_path)),
            Err(error) => {
                stop(&mut started);
                return Err(error);
            }
        }
    }
    for position in 0..started.len() {
        let begun = Instant::now();
        loop {
            let (index, child, address_file, log_path) = &mut started[position];
            if let Ok(url) = std::fs::read_to_string(&*address_file)
                && !url.trim().is_empty()
            {
                break;
            }
            if matches!(child.try_wait(), Ok(Some(_))) || begun.elapsed() > Duration::from_secs(30)
            {
                let error = CliError::msg(
                    EXIT_ENVIRONMENT,
                    format!("local worker {index} did not start"),
                )
                .hint(format!("its log is {}", log_path.display()));
                stop(&mut started);
                return Err(error);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    print_workers(&config.data_dir);
    Ok(())
}

fn print_workers(data_dir: &Path) {
    let workers = running_workers(data_dir);
    if workers.is_empty() {
        return;
    }
    say!("Local workers ({}):", workers.len());
    for worker in &workers {
        say!("  {}  {} (pid {})", worker.index, worker.url, worker.pid);
    }
    say!(
        "Query across them with `codelake sql --workers local \"…\"` (or `--workers {}` with the token in {}).",
        workers
            .iter()
            .map(|worker| worker.url.trim_start_matches("http://"))
            .collect::<Vec<_>>()
            .join(","),
        worker_token_path(data_dir).display()
    );
}

/// Whether `pid` is a `codelake worker` of `data_dir`: on Linux, its command
/// line says `worker` and `--data-dir DATA_DIR`, so a recorded pid reused by
/// another program after a reboot is not ours to stop; elsewhere, that the
/// process is alive (`kill -0`).
fn is_worker_process(pid: u32, data_dir: &Path) -> bool {
    if cfg!(target_os = "linux") {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            return false;
        };
        let arguments: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
        let data_dir = data_dir.as_os_str().as_encoded_bytes();
        return arguments.contains(&b"worker".as_slice())
            && arguments
                .windows(2)
                .any(|pair| pair[0] == b"--data-dir" && pair[1] == data_dir);
    }
    Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Stops the local workers, whether or not they still answer: SIGTERM, then
/// SIGKILL after 10 s. Returns how many were running. The records of a
/// worker that would not stop are kept, so `local status` still shows it.
fn stop_workers(data_dir: &Path) -> usize {
    let dir = workers_dir(data_dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return 0;
    };
    let pids: Vec<u32> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "pid"))
        .filter_map(|path| std::fs::read_to_string(path).ok()?.trim().parse().ok())
        .filter(|&pid| is_worker_process(pid, data_dir))
        .collect();
    for pid in &pids {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let asked = Instant::now();
    while pids.iter().any(|&pid| is_worker_process(pid, data_dir))
        && asked.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stubborn: Vec<u32> = pids
        .iter()
        .copied()
        .filter(|&pid| is_worker_process(pid, data_dir))
        .collect();
    for pid in &stubborn {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    let asked = Instant::now();
    while stubborn.iter().any(|&pid| is_worker_process(pid, data_dir))
        && asked.elapsed() < Duration::from_secs(2)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    if pids.iter().all(|&pid| !is_worker_process(pid, data_dir)) {
        let _ = std::fs::remove_dir_all(&dir);
    }
    pids.len()
}

/// Runs the servers in this process until Ctrl-C or SIGTERM.
async fn serve(config: &Config) -> Result<(), CliError> {
    let local = LocalEnvironment::start(&config.data_dir)
        .await
        .map_err(CliError::environment)?;
    local.publish().map_err(CliError::environment)?;
    print_state(&config.data_dir, local.state());
    eprintln!("Serving until Ctrl-C or `codelake local down`.");
    wait_for_stop().await;
    local.unpublish();
    eprintln!("Stopped.");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
#[cfg(unix)]
pub async fn wait_for_stop() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Completes on Ctrl-C.
#[cfg(not(unix))]
pub async fn wait_for_stop() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Stops the environment `local up` started.
pub fn down(global: &Global) -> Result<(), CliError> {
    let config = embedded_config(global)?;
    match stop_workers(&config.data_dir) {
        0 => {}
        1 => say!("Stopped 1 local worker."),
        n => say!("Stopped {n} local workers."),
    }
    let Some(state) = read_state(&config.data_dir) else {
        say!("The local environment is not running.");
        return Ok(());
    };
    // Only a process that still serves the recorded endpoints is ours to stop:
    // after a crash or a reboot, the recorded pid may belong to something else.
    if LocalEnvironment::attach(&config.data_dir).is_none() {
        let _ = std::fs::remove_file(state_path(&config.data_dir));
        say!(
            "The local environment is not running (removed the stale record of pid {}).",
            state.pid
        );
        return Ok(());
    }
    {
        let status = Command::new("kill")
            .arg(state.pid.to_string())
            .status()
            .map_err(CliError::environment)?;
        if !status.success() {
            return Err(CliError::msg(
                EXIT_FAILED,
                format!("could not stop process {}", state.pid),
            ));
        }
        let asked = Instant::now();
        while process_alive(state.pid) && asked.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if process_alive(state.pid) {
            return Err(CliError::msg(
                EXIT_FAILED,
                format!(
                    "process {} is still running 10 s after being asked to stop",
                    state.pid
                ),
            )
            .hint(format!("stop it with `kill -9 {}`", state.pid)));
        }
    }
    let _ = std::fs::remove_file(state_path(&config.data_dir));
    say!("Stopped the local environment (pid {}).", state.pid);
    Ok(())
}

/// Says whether the environment runs, and where. Exit code 1 when it does not.
pub fn status(global: &Global) -> Result<(), CliError> {
    let config = embedded_config(global)?;
    match LocalEnvironment::attach(&config.data_dir) {
        Some(running) => {
            print_state(&config.data_dir, running.state());
            print_workers(&config.data_dir);
            Ok(())
        }
        None => Err(CliError::msg(
            EXIT_FAILED,
            format!(
                "the local environment of {} is not running",
                config.data_dir.display()
            ),
        )
        .hint("start it with `codelake local up`; `codelake sql` starts its own servers when it is down")),
    }
}

fn print_state(data_dir: &Path, state: &LocalState) {
    let s3 = &state.s3_endpoint;
    say!(
        "Local environment running (pid {}), data in {}\n\
         \x20 S3:       {s3}  (bucket `{LOCAL_BUCKET}`, region {LOCAL_REGION})\n\
         \x20 HTTP API: {}/fx/rates  (bearer token held by codelake)\n\
         Point an S3 client at it (development credentials, not secrets):\n\
         \x20 export AWS_ENDPOINT_URL={s3} AWS_REGION={LOCAL_REGION} \
         AWS_ACCESS_KEY_ID={LOCAL_ACCESS_KEY_ID} AWS_SECRET_ACCESS_KEY={LOCAL_SECRET_ACCESS_KEY}\n\
         \x20 aws s3 ls s3://{LOCAL_BUCKET}/tpch/\n\
         codelake commands use it while it is up; stop it with `codelake local down`.",
        state.pid,
        data_dir.display(),
        state.http_base_url,
    );
}
