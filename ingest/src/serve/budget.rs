//! A budget of bytes shared by threads: how much data may wait between two
//! stages of the server (requests being normalized, or normalized chunks
//! handed to the indexer).
//!
//! A queue bounded by count holds very different amounts of memory when
//! requests are 1 MiB or 10 MiB; a byte budget holds the same. A worker
//! takes its request's bytes before normalizing it and the log writer gives
//! them back once the lines are on their way to the batch stage (whose own
//! queue is small and bounded). One request larger than the whole budget
//! still goes through, alone.

use std::sync::{Condvar, Mutex, PoisonError};

pub(crate) struct ByteBudget {
    state: Mutex<State>,
    freed: Condvar,
    limit: usize,
}

struct State {
    used: usize,
    closed: bool,
}

impl ByteBudget {
    pub fn new(limit: usize) -> ByteBudget {
        ByteBudget { state: Mutex::new(State { used: 0, closed: false }), freed: Condvar::new(), limit }
    }

    /// Waits until `bytes` fit (or nothing else is held), then takes them.
    /// Returns false once the budget is closed: its consumer has stopped.
    pub fn take(&self, bytes: usize) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.closed && state.used > 0 && state.used + bytes > self.limit {
            state = self.freed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if state.closed {
            return false;
        }
        state.used += bytes;
        true
    }

    /// Takes `bytes` if they fit now (or nothing else is held), without
    /// waiting; `false` otherwise, and once the budget is closed.
    pub fn try_take(&self, bytes: usize) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.closed || (state.used > 0 && state.used + bytes > self.limit) {
            return false;
        }
        state.used += bytes;
        true
    }

    pub fn give_back(&self, bytes: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.used = state.used.saturating_sub(bytes);
        self.freed.notify_all();
    }

    /// Wakes every waiter for good: the consumer is gone.
    pub fn close(&self) {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).closed = true;
        self.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_taker_waits_until_bytes_are_given_back_and_one_oversized_request_passes_alone() {
        let budget = Arc::new(ByteBudget::new(10));
        assert!(budget.take(25), "more than the budget passes when nothing is held");
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.take(4))
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished(), "must wait while 25 bytes are held");
        budget.give_back(25);
        assert!(waiter.join().unwrap());
        assert!(budget.take(6));
        assert!(!budget.try_take(1), "4 + 6 bytes fill 10: no waiting");
        budget.give_back(6);
        assert!(budget.try_take(5));
        budget.close();
        assert!(!budget.take(1), "a closed budget refuses");
        assert!(!budget.try_take(0), "a closed budget refuses without waiting too");
    }
}
