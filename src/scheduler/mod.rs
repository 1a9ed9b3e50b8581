//! The in-process scheduler: a closed list of jobs ([`Job`]), each on a cron line in
//! Europe/London time, run inside the server instead of by a separate beat process.
//!
//! Why it can be trusted:
//! - **Run state lives in redb** (`SCHEDULER_RUNS`): the last schedule slot handled, the last
//!   start, finish and outcome, and (`SCHEDULER_LINES`) the cron line that slot was counted on.
//!   A slot missed while the appliance was down is caught up once when it comes back (several
//!   missed slots fold into one run), and a run cut short by a crash (still marked running at
//!   start-up) is run again.
//! - **Every state leads back to the schedule** ([`Scheduler::step`]): a job first run by hand
//!   counts its schedule from that run; a changed cron line counts from the change; a clock that
//!   went back past the last slot handled waits for it only if it is the next slot anyway, and
//!   otherwise counts from now; a run state that cannot be read starts afresh.
//! - **Never two runs of one job at once**: a run holds the job's entry in an in-memory set for
//!   its whole life; a second start (from the timer, `notify jobs run` or the internal API) is
//!   refused.
//! - **A failed run is recorded and alerted** ([`crate::domain::alerts`]).
//! - Jobs are written to heal themselves (retention deletes everything past the cut-off, facts
//!   recompute trailing days, replay picks up anything still `created`), so a missed or
//!   repeated run is harmless; catching up is a convenience, not a correctness requirement.
//!
//! The timer ticks every second and compares each job's next slot with the injected clock, so
//! tests can move a manual clock across midnight, or a DST change, and call [`run_due`].

mod jobs;

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::London;
use cron::Schedule;
use storage::records::SchedulerRun;
use tokio::sync::watch;

use crate::app::App;
use crate::domain::alerts;
pub use jobs::Job;

/// How often the timer looks at the clock.
const TICK: Duration = Duration::from_secs(1);
/// Missed slots looked at when folding a long outage into one run (a minute job down for a
/// week has 10,080); beyond this the run simply happens now.
const MAX_SLOTS_FOLDED: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("there is no scheduled job called {0:?}; `notify jobs list` shows them")]
    UnknownJob(String),
    #[error("{0} is already running")]
    AlreadyRunning(&'static str),
    #[error(transparent)]
    Store(#[from] storage::StoreError),
}

/// Check `[scheduler.jobs]` overrides: every name a job, every line a valid cron line.
pub fn check_overrides(overrides: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, line) in overrides {
        if Job::from_name(name).is_none() {
            let names: Vec<&str> = Job::ALL.iter().map(|j| j.name()).collect();
            return Err(format!(
                "{name:?} is not a scheduled job (the jobs are: {})",
                names.join(", ")
            ));
        }
        parse_cron(line).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

fn parse_cron(line: &str) -> Result<Schedule, String> {
    Schedule::from_str(line).map_err(|e| {
        format!(
            "{line:?} is not a cron line ({e}); use six fields, seconds first, \
             e.g. \"0 50 17 * * *\" for 17:50 every day, and day names (Mon-Fri) for weekdays"
        )
    })
}

/// The jobs' parsed schedules and which of them are running now.
pub struct Scheduler {
    schedules: Vec<(Job, String, Schedule)>,
    running: Mutex<HashSet<&'static str>>,
}

/// What `notify jobs list` shows for one job.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobInfo {
    pub name: &'static str,
    pub description: &'static str,
    pub schedule: String,
    pub next_run: Option<String>,
    pub running: bool,
    pub last_started: Option<String>,
    pub last_finished: Option<String>,
    pub last_outcome: Option<String>,
    pub last_message: Option<String>,
    pub runs: u64,
    pub failures: u64,
}

/// The outcome of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunReport {
    pub name: &'static str,
    pub ok: bool,
    pub message: String,
}

fn micros_to_london(micros: i64) -> Option<DateTime<chrono_tz::Tz>> {
    Utc.timestamp_micros(micros)
        .single()
        .map(|t| t.with_timezone(&London))
}

fn london_text(micros: Option<i64>) -> Option<String> {
    micros
        .and_then(micros_to_london)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S %Z").to_string())
}

/// Holds a job's running mark; releases it when the run ends, however it ends.
struct RunningGuard {
    app: Arc<App>,
    name: &'static str,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.app
            .scheduler
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(self.name);
    }
}

impl Scheduler {
    /// Parse every job's schedule (its default, or the config's override). Overrides were
    /// checked when the config was loaded.
    pub fn new(overrides: &BTreeMap<String, String>) -> Result<Scheduler, String> {
        let mut schedules = Vec::new();
        for job in Job::ALL {
            let line = overrides
                .get(job.name())
                .cloned()
                .unwrap_or_else(|| job.default_cron().to_string());
            let schedule = parse_cron(&line).map_err(|e| format!("{}: {e}", job.name()))?;
            schedules.push((*job, line, schedule));
        }
        Ok(Scheduler {
            schedules,
            running: Mutex::new(HashSet::new()),
        })
    }

    fn schedule_of(&self, job: Job) -> &Schedule {
        &self
            .schedules
            .iter()
            .find(|(j, _, _)| *j == job)
            .expect("every job has a schedule")
            .2
    }

    fn is_running(&self, job: Job) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(job.name())
    }

    /// The first slot strictly after `after_micros`.
    fn next_slot(&self, job: Job, after_micros: i64) -> Option<i64> {
        let after = micros_to_london(after_micros)?;
        self.schedule_of(job)
            .after(&after)
            .next()
            .map(|t| t.with_timezone(&Utc).timestamp_micros())
    }

    /// The latest slot at or before `now`, given that `first` (a slot) is at or before it.
    fn latest_slot(&self, job: Job, first: i64, now: i64) -> i64 {
        let mut latest = first;
        for _ in 0..MAX_SLOTS_FOLDED {
            match self.next_slot(job, latest) {
                Some(next) if next <= now => latest = next,
                _ => return latest,
            }
        }
        now
    }

    fn line_of(&self, job: Job) -> &str {
        &self
            .schedules
            .iter()
            .find(|(j, _, _)| *j == job)
            .expect("every job has a schedule")
            .1
    }

    /// What to do about `job` at `now`, given its stored run state and the cron line that state
    /// was counted on. Every state a run, a crash, the clock or the config can leave behind
    /// leads back to a run on the schedule.
    fn step(&self, job: Job, run: Option<&SchedulerRun>, line: Option<&str>, now: i64) -> Step {
        // First sight of this job: nothing was missed before the appliance knew it.
        let Some(run) = run else {
            return Step::Anchor(now);
        };
        // Cut short by a crash or a stop: run it again, for the slots missed since.
        if run.running {
            return Step::Run(run.last_due.map(|last| {
                if last <= now {
                    self.latest_slot(job, last, now)
                } else {
                    last
                }
            }));
        }
        // Run by hand before any slot was counted (as older versions recorded it): count the
        // schedule from that run.
        let Some(last) = run.last_due else {
            return Step::Anchor(run.last_started.filter(|&t| t <= now).unwrap_or(now));
        };
        // The config changed the schedule: the new one counts from now (its earlier slots were
        // not missed, the old schedule was being kept then).
        if line.is_some_and(|l| l != self.line_of(job)) {
            return Step::Anchor(now);
        }
        // The clock went back past the last slot handled. Back by less than one period (the
        // handled slot is the next one anyway), wait for the one after it, so a small step back
        // does not run a slot twice; back further, count the schedule from now, or the job
        // would wait until the clock caught up with the slot.
        if last > now {
            return if self.next_slot(job, now) == Some(last) {
                Step::Wait
            } else {
                Step::Anchor(now)
            };
        }
        match self.next_slot(job, last) {
            Some(next) if next <= now => Step::Run(Some(self.latest_slot(job, next, now))),
            _ => Step::Wait,
        }
    }

    /// Jobs needing something done at `now`: the step, and the run state it was decided on.
    fn due(&self, app: &App, now: i64) -> Result<Vec<Due>, SchedulerError> {
        let read = app.store.read()?;
        let mut stored: BTreeMap<String, SchedulerRun> = read
            .scheduler_runs()?
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let lines: BTreeMap<String, String> = read.scheduler_lines()?.into_iter().collect();
        let mut due = Vec::new();
        for (job, _, _) in &self.schedules {
            let job = *job;
            if self.is_running(job) {
                continue;
            }
            let seen = stored.remove(job.name());
            let line = lines.get(job.name()).map(String::as_str);
            match self.step(job, seen.as_ref(), line, now) {
                Step::Wait => {}
                step => due.push(Due { job, step, seen }),
            }
        }
        Ok(due)
    }
}

/// What the scheduler does about one job at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    /// Nothing is due.
    Wait,
    /// Count the schedule from this time (the next slot after it is the next run), without
    /// running now.
    Anchor(i64),
    /// Run now, recording this slot as handled (None: no slot, e.g. a hand run cut short).
    Run(Option<i64>),
}

/// A job needing something done, with the run state the step was decided on.
struct Due {
    job: Job,
    step: Step,
    seen: Option<SchedulerRun>,
}

/// Mark `job` running, unless it already is.
fn try_mark_running(app: &Arc<App>, job: Job) -> Option<RunningGuard> {
    let mut running = app
        .scheduler
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    running.insert(job.name()).then(|| RunningGuard {
        app: app.clone(),
        name: job.name(),
    })
}

/// Count `job`'s schedule from `at` (see [`Step::Anchor`]), keeping the rest of its run state;
/// only if that state is still `seen` (a hand run that started since decides instead).
async fn anchor(
    app: &App,
    job: Job,
    seen: Option<SchedulerRun>,
    at: i64,
) -> Result<(), SchedulerError> {
    let name = job.name();
    let line = app.scheduler.line_of(job).to_string();
    app.store
        .write(move |ctx| {
            if ctx.get_scheduler_run(name)? != seen {
                return Ok(());
            }
            let mut run = seen.unwrap_or_else(|| SchedulerRun {
                name: name.to_string(),
                ..Default::default()
            });
            run.last_due = Some(at);
            ctx.put_scheduler_run(&run)?;
            ctx.put_scheduler_line(name, &line)
        })
        .await?;
    Ok(())
}

/// Run one job now, recording it. `slot` is the schedule slot the run handles (None for a run
/// asked for by hand, which leaves the schedule alone, unless none was counted yet: then the
/// schedule counts from this run).
async fn run_job(app: &Arc<App>, job: Job, slot: Option<i64>) -> Result<RunReport, SchedulerError> {
    let Some(guard) = try_mark_running(app, job) else {
        return Err(SchedulerError::AlreadyRunning(job.name()));
    };
    run_marked(app, guard, job, slot).await
}

/// [`run_job`] for a job already marked running (the mark is released when `_guard` drops).
async fn run_marked(
    app: &Arc<App>,
    _guard: RunningGuard,
    job: Job,
    slot: Option<i64>,
) -> Result<RunReport, SchedulerError> {
    let name = job.name();
    let line = app.scheduler.line_of(job).to_string();
    let started = app.store.clock().now_micros();
    app.store
        .write(move |ctx| {
            let mut run = ctx
                .get_scheduler_run(name)?
                .unwrap_or_else(|| SchedulerRun {
                    name: name.to_string(),
                    ..Default::default()
                });
            if run.running {
                run.failures += 1;
                run.last_outcome = Some("interrupted".into());
            }
            run.running = true;
            run.last_started = Some(started);
            // The slot (and the line it was counted on) this run moves the schedule to.
            let counted = match (slot, run.last_due) {
                (Some(slot), last) => Some(slot.max(last.unwrap_or(i64::MIN))),
                (None, None) => Some(started),
                (None, Some(_)) => None,
            };
            if let Some(counted) = counted {
                run.last_due = Some(counted);
                ctx.put_scheduler_line(name, &line)?;
            }
            ctx.put_scheduler_run(&run)
        })
        .await?;
    if job.is_routine() {
        tracing::debug!(job = name, "scheduled job started");
    } else {
        tracing::info!(job = name, "scheduled job started");
    }
    let outcome = job.run(app).await;
    let finished = app.store.clock().now_micros();
    let (ok, message) = match &outcome {
        Ok(summary) => (true, summary.clone()),
        Err(e) => (false, e.to_string()),
    };
    let recorded = message.clone();
    app.store
        .write(move |ctx| {
            let mut run = ctx.get_scheduler_run(name)?.unwrap_or_default();
            run.name = name.to_string();
            run.running = false;
            run.last_finished = Some(finished);
            run.last_outcome = Some(if ok { "ok" } else { "failed" }.into());
            run.last_message = Some(recorded);
            run.runs += 1;
            if !ok {
                run.failures += 1;
            }
            ctx.put_scheduler_run(&run)
        })
        .await?;
    let took_micros = (finished - started).max(0);
    app.metrics.job_finished(
        name,
        ok,
        std::time::Duration::from_micros(took_micros as u64),
        finished,
    );
    let took_ms = took_micros / 1000;
    if ok && job.is_routine() {
        tracing::debug!(job = name, took_ms, summary = %message, "scheduled job finished");
    } else if ok {
        tracing::info!(job = name, took_ms, summary = %message, "scheduled job finished");
    } else {
        alerts::raise(
            app,
            "scheduled-job-failed",
            format!("Scheduled job {name} failed: {message}"),
            vec![],
        )
        .await;
    }
    Ok(RunReport { name, ok, message })
}

/// Run every job that is due now and wait for them (the timer spawns them instead). Returns the
/// reports of the runs that happened.
pub async fn run_due(app: &Arc<App>) -> Result<Vec<RunReport>, SchedulerError> {
    let now = app.store.clock().now_micros();
    let mut reports = Vec::new();
    for Due { job, step, seen } in app.scheduler.due(app, now)? {
        match step {
            Step::Wait => {}
            Step::Anchor(at) => anchor(app, job, seen, at).await?,
            Step::Run(slot) => match run_job(app, job, slot).await {
                Ok(r) => reports.push(r),
                Err(SchedulerError::AlreadyRunning(_)) => {}
                Err(e) => return Err(e),
            },
        }
    }
    Ok(reports)
}

/// Run the named job now (`notify jobs run NAME`, the internal API) and wait for it.
pub async fn run_now(app: &Arc<App>, name: &str) -> Result<RunReport, SchedulerError> {
    let job = Job::from_name(name).ok_or_else(|| SchedulerError::UnknownJob(name.to_string()))?;
    run_job(app, job, None).await
}

/// Every job with its schedule, next run and last run.
pub fn list(app: &App) -> Result<Vec<JobInfo>, SchedulerError> {
    let stored: BTreeMap<String, SchedulerRun> = app
        .store
        .read()?
        .scheduler_runs()?
        .into_iter()
        .map(|r| (r.name.clone(), r))
        .collect();
    let now = app.store.clock().now_micros();
    Ok(app
        .scheduler
        .schedules
        .iter()
        .map(|(job, line, _)| {
            let run = stored.get(job.name()).cloned().unwrap_or_default();
            JobInfo {
                name: job.name(),
                description: job.description(),
                schedule: line.clone(),
                next_run: london_text(app.scheduler.next_slot(*job, now)),
                running: app.scheduler.is_running(*job),
                last_started: london_text(run.last_started),
                last_finished: london_text(run.last_finished),
                last_outcome: run.last_outcome,
                last_message: run.last_message,
                runs: run.runs,
                failures: run.failures,
            }
        })
        .collect())
}

/// The timer: every second, start the jobs that are due (each in its own task, so a long
/// retention run does not hold up the one-minute jobs). When `stop` turns true, runs still going
/// are cut short between two commits (every job commits in bounded steps); they are still marked
/// running in redb, so they run again at the next start.
pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let mut in_flight: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        in_flight.retain(|h| !h.is_finished());
        let now = app.store.clock().now_micros();
        match app.scheduler.due(&app, now) {
            Ok(due) => {
                for Due { job, step, seen } in due {
                    match step {
                        Step::Wait => {}
                        Step::Anchor(at) => {
                            if let Err(e) = anchor(&app, job, seen, at).await {
                                tracing::error!(job = job.name(), error = %e, "cannot record a scheduled job");
                            }
                        }
                        Step::Run(slot) => {
                            // Marked before the task starts, so the next tick cannot start it again.
                            let Some(guard) = try_mark_running(&app, job) else {
                                continue;
                            };
                            let app = app.clone();
                            in_flight.push(tokio::spawn(async move {
                                if let Err(e) = run_marked(&app, guard, job, slot).await {
                                    tracing::error!(job = job.name(), error = %e, "cannot run a scheduled job");
                                }
                            }));
                        }
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the scheduler's state"),
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {},
            _ = stop.changed() => break,
        }
    }
    for h in &in_flight {
        h.abort();
    }
    for h in in_flight {
        let _ = h.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_schedule_parses_and_names_are_unique() {
        let s = Scheduler::new(&BTreeMap::new()).unwrap();
        let names: HashSet<&str> = s.schedules.iter().map(|(j, _, _)| j.name()).collect();
        assert_eq!(names.len(), Job::ALL.len());
    }

    #[test]
    fn overrides_name_real_jobs_with_valid_lines() {
        let mut o = BTreeMap::new();
        o.insert("no-such-job".to_string(), "0 0 3 * * *".to_string());
        assert!(
            check_overrides(&o)
                .unwrap_err()
                .contains("not a scheduled job")
        );
        let mut o = BTreeMap::new();
        o.insert(
            "delete-notifications-older-than-retention".to_string(),
            "0 3 * * *".to_string(),
        );
        assert!(check_overrides(&o).unwrap_err().contains("six fields"));
        o.insert(
            "delete-notifications-older-than-retention".to_string(),
            "0 30 4 * * *".to_string(),
        );
        assert!(check_overrides(&o).is_ok());
    }

    fn london(y: i32, m: u32, d: u32, h: u32, min: u32) -> i64 {
        London
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
            .timestamp_micros()
    }

    #[test]
    fn slots_are_london_wall_clock_across_a_dst_change() {
        let s = Scheduler::new(&BTreeMap::new()).unwrap();
        let job = Job::DeleteNotificationsOlderThanRetention;
        // 03:00 London is 03:00 UTC in winter and 02:00 UTC in summer.
        let before_spring = london(2026, 3, 28, 12, 0);
        assert_eq!(
            s.next_slot(job, before_spring),
            Some(london(2026, 3, 29, 3, 0))
        );
        let summer = s.next_slot(job, before_spring).unwrap();
        assert_eq!(
            Utc.timestamp_micros(summer)
                .unwrap()
                .format("%H:%M")
                .to_string(),
            "02:00"
        );
        let winter = s.next_slot(job, london(2026, 10, 25, 12, 0)).unwrap();
        assert_eq!(
            Utc.timestamp_micros(winter)
                .unwrap()
                .format("%H:%M")
                .to_string(),
            "03:00"
        );
    }

    #[test]
    fn missed_slots_fold_into_the_latest() {
        let s = Scheduler::new(&BTreeMap::new()).unwrap();
        let job = Job::DeleteNotificationsOlderThanRetention;
        let first = london(2026, 11, 1, 3, 0);
        let now = london(2026, 11, 5, 9, 0);
        assert_eq!(s.latest_slot(job, first, now), london(2026, 11, 5, 3, 0));
    }
}
