//! `datapact daemon`: logging set-up, the tokio runtime, and SIGINT/SIGTERM handling.

use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;
use crate::settings::Settings;

/// Runs the daemon in the foreground until SIGINT or SIGTERM.
pub fn run(settings: &Settings, format: LogFormat) -> anyhow::Result<ExitCode> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("datapact")
        .build()?;
    runtime.block_on(async {
        // The handlers are installed before the daemon starts, not when it first waits for a
        // signal: a SIGTERM sent as soon as the control socket answers must stop it cleanly,
        // not kill it with the default action.
        let shutdown = shutdown_signal();
        datapact_node::daemon::run(&settings.dir, shutdown).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Installs the SIGINT and SIGTERM handlers (call inside the runtime); the future completes on
/// the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let handlers = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    );
    async move {
        let (Ok(mut term), Ok(mut int)) = handlers else {
            tracing::error!("cannot install signal handlers; stop the daemon with SIGKILL");
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    }
}
