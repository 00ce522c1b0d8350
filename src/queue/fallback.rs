//! A role's fallback providers take its queued jobs while its own provider is parked at a
//! usage limit (issue 22).

use rusqlite::Connection;

use super::Queue;
use crate::store::Result;
use crate::store::events::{self, About, EventKind};
use crate::store::jobs;

impl Queue {
    /// Moves the queued jobs of `limit`'s provider, of each role with a fallback, to the
    /// role's first fallback not in `excluded`: one `job_moved` event each.
    pub(super) fn fall_back(
        &self,
        conn: &Connection,
        limit: &crate::store::limits::Limit,
        excluded: &[String],
        now: i64,
    ) -> Result<()> {
        for (role, fallbacks) in &self.fallbacks {
            let Some(to) = fallbacks.iter().find(|f| !excluded.contains(f)) else {
                continue;
            };
            for job in jobs::move_queued(conn, role, &limit.provider, to, now)? {
                events::record(
                    conn,
                    EventKind::JobMoved,
                    About::job_of(&job),
                    "queue",
                    format!(
                        "job {} of role {role} moved from {} to its fallback {to}: {} is parked \
                         until {}",
                        job.id,
                        limit.provider,
                        limit.provider,
                        crate::provider::limit::clock_time(limit.until_at)
                    ),
                    now,
                )?;
            }
        }
        Ok(())
    }
}
