//! A TCP proxy in front of a real server that a test can cut and restore. While cut, open
//! connections are dropped and new ones are closed as soon as they arrive: to the appliance
//! the server is gone, while the server itself (and what it stores) stays up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct CutProxy {
    pub port: u16,
    cut: watch::Sender<bool>,
    turned_away: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl CutProxy {
    /// Forwards 127.0.0.1:`port` (a new port) to 127.0.0.1:`target`.
    pub async fn start(target: u16) -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (cut, is_cut) = watch::channel(false);
        let turned_away = Arc::new(AtomicUsize::new(0));
        let counter = turned_away.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if *is_cut.borrow() {
                    counter.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                let mut is_cut = is_cut.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = is_cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        CutProxy {
            port,
            cut,
            turned_away,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on nothing gets through, and what was open is dropped.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }

    /// Connections closed on arrival while cut: how often the appliance tried.
    pub fn turned_away(&self) -> usize {
        self.turned_away.load(Ordering::Relaxed)
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
