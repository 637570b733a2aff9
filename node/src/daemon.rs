//! The daemon: loads the node directory, opens the store, serves the control socket (and the
//! network), and shuts down cleanly when asked: stop accepting, let in-flight requests finish,
//! flush the store, remove the socket.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::net::UnixListener;
use tokio::sync::{broadcast, mpsc};

use crate::home::{self, HomeError};
use crate::ops::Context;
use crate::store::{Store, StoreError};

/// How long in-flight requests may run after a shutdown signal before they are abandoned.
/// Abandoning is safe: nothing is acknowledged before it is flushed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// The node directory is missing or unsafe.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another daemon answers on the control socket.
    #[error("a daemon is already running on {0}")]
    AlreadyRunning(String),
    /// The control socket could not be created.
    #[error("control socket {path}: {source}")]
    Socket {
        /// The socket path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Runs the daemon on `dir` until `shutdown` completes.
pub async fn run(
    dir: &Path,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    let home = home::load(dir)?;
    let socket_path = home.layout.control_socket();
    let socket_text = socket_path.display().to_string();
    if std::os::unix::net::UnixStream::connect(&socket_path).is_ok() {
        return Err(DaemonError::AlreadyRunning(dir.display().to_string()));
    }
    let layout = home.layout.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&layout))
        .await
        .map_err(|e| StoreError::Corrupt(e.to_string()))??;
    let store = Arc::new(store);

    // A socket file left by a daemon that was killed: nobody answered on it above.
    let _ = std::fs::remove_file(&socket_path);
    let listener = UnixListener::bind(&socket_path).map_err(|source| DaemonError::Socket {
        path: socket_text.clone(),
        source,
    })?;
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o600)).map_err(
        |source| DaemonError::Socket {
            path: socket_text.clone(),
            source,
        },
    )?;

    let ctx = Context {
        home: Arc::new(home),
        store: store.clone(),
        listening: Arc::new(RwLock::new(Vec::new())),
    };
    tracing::info!(
        member = %ctx.home.member,
        peer_id = %ctx.home.identity.peer_id(),
        control = %socket_text,
        "daemon started"
    );

    let (shutdown_tx, _) = broadcast::channel::<()>(1);
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let server = tokio::spawn(crate::control::serve(
        listener,
        ctx.clone(),
        shutdown_tx.clone(),
        done_tx,
    ));

    shutdown.await;
    tracing::info!("shutting down");
    let _ = shutdown_tx.send(());
    let _ = server.await;
    if tokio::time::timeout(SHUTDOWN_GRACE, done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish in time; abandoning them");
    }
    store.flush().await?;
    let _ = std::fs::remove_file(&socket_path);
    tracing::info!("stopped cleanly");
    Ok(())
}
