//! The client's heartbeat: one `heartbeat {timestamp}` every 30 seconds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{Instant, Interval, MissedTickBehavior, interval_at};

use crate::message::{ClientEvent, Heartbeat};

/// How often a client sends a heartbeat.
pub const HEARTBEAT_PERIOD: Duration = Duration::from_secs(30);

/// A timer that yields heartbeat events, the first one a full period after it starts.
///
/// [`Heartbeats::tick`] is cancel safe, for a `tokio::select!` with [`crate::Session::next`].
#[derive(Debug)]
pub struct Heartbeats {
    interval: Interval,
}

impl Heartbeats {
    /// Every [`HEARTBEAT_PERIOD`].
    pub fn new() -> Self {
        Self::every(HEARTBEAT_PERIOD)
    }

    /// Every `period` (tests use milliseconds). A zero period is treated as one millisecond.
    pub fn every(period: Duration) -> Self {
        let period = period.max(Duration::from_millis(1));
        let mut interval = interval_at(Instant::now() + period, period);
        // After a long blocking step, send one heartbeat, not a burst of missed ones.
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { interval }
    }

    /// Waits for the next period and returns the heartbeat to send.
    pub async fn tick(&mut self) -> ClientEvent {
        self.interval.tick().await;
        heartbeat_now()
    }
}

impl Default for Heartbeats {
    fn default() -> Self {
        Self::new()
    }
}

/// A heartbeat stamped with the current time in milliseconds since the Unix epoch.
pub fn heartbeat_now() -> ClientEvent {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    ClientEvent::Heartbeat(Heartbeat {
        timestamp: i64::try_from(millis).unwrap_or(i64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Heartbeats;
    use crate::message::ClientEvent;

    #[tokio::test(start_paused = true)]
    async fn ticks_once_per_period_with_a_timestamp() {
        let started = tokio::time::Instant::now();
        let mut heartbeats = Heartbeats::every(Duration::from_secs(30));
        let ClientEvent::Heartbeat(first) = heartbeats.tick().await else {
            panic!("not a heartbeat")
        };
        assert!(first.timestamp > 1_600_000_000_000);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        heartbeats.tick().await;
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }
}
