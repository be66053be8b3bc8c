//! `/loki/api/v1/tail`: Loki's live tail, over a WebSocket.
//!
//! On connecting, the client gets the newest `limit` lines since `start`
//! (oldest first), then, every [`POLL`], the lines of batches committed
//! since: found by batch number, so each line comes once, and a line
//! committed at time t is sent by t + 2 × [`POLL`]. Each message is Loki's
//! `{"streams": […], "dropped_entries": …}`. At most
//! [`MAX_CONCURRENT_TAILS`] tails run at once, as Loki limits them.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::State;
use super::params::Params;
use crate::logql::ast::{Expr, LogQuery};
use crate::logql::eval::{self, Entry};
use crate::logql::parse;
use crate::time::TimeRange;

/// How often a tail looks for new batches.
const POLL: Duration = Duration::from_millis(500);
/// How often a quiet tail pings, so that the connection's idle timeout
/// (nothing moved either way) does not close it.
const PING: Duration = Duration::from_secs(30);
/// Tails open at once (Loki's `max_concurrent_tail_requests`).
pub const MAX_CONCURRENT_TAILS: usize = 10;
const HOUR: i64 = 3_600_000_000_000;

pub async fn tail(
    AxumState(state): AxumState<Arc<State>>,
    RawQuery(query): RawQuery,
    headers: axum::http::HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let refuse = |reason: String| (StatusCode::BAD_REQUEST, reason).into_response();
    let params = match Params::parse(query.as_deref(), None) {
        Ok(params) => params,
        Err(error) => return refuse(error.0),
    };
    let Some(text) = params.get("query") else { return refuse("query parameter is required".to_owned()) };
    let query = match parse(text) {
        Ok(Expr::Log(mut query)) => {
            query.selector.extend(super::loki::tenant(&headers));
            query
        }
        Ok(Expr::Metric(_)) => return refuse("tail needs a log query, such as {service_name=\"api\"}".to_owned()),
        Err(error) => return refuse(error.to_string()),
    };
    let now = jiff::Timestamp::now().as_nanosecond() as i64;
    let start = match params.time("start", now - HOUR) {
        Ok(start) => start,
        Err(error) => return refuse(error.0),
    };
    let limit = match params.limit(100, super::loki::MAX_ENTRIES) {
        Ok(limit) => limit,
        Err(error) => return refuse(error.0),
    };
    let Ok(permit) = state.tails.clone().try_acquire_owned() else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!("max concurrent tail requests limit exceeded ({MAX_CONCURRENT_TAILS})"),
        )
            .into_response();
    };
    upgrade.on_upgrade(move |socket| async move {
        follow(state, socket, query, start, limit).await;
        drop(permit);
    })
}

async fn follow(state: Arc<State>, mut socket: WebSocket, query: LogQuery, start: i64, limit: usize) {
    let query = Arc::new(query);
    // What is committed now: the newest `limit` lines since `start`.
    let first = {
        let (state, query) = (state.clone(), query.clone());
        tokio::task::spawn_blocking(move || -> Result<(Vec<Entry>, Vec<u64>), String> {
            let store = state.store.current().map_err(|e| e.to_string())?;
            let range = TimeRange { from: Some(start), to: None };
            let mut lines =
                eval::select_lines(&store, &query, range, limit, false, &state.limits).map_err(|e| e.to_string())?;
            lines.reverse();
            Ok((lines, store.last_batches().to_vec()))
        })
        .await
    };
    let mut shown = match first {
        Ok(Ok((lines, shown))) => {
            if !lines.is_empty() && send(&mut socket, &lines, 0).await.is_err() {
                return;
            }
            shown
        }
        Ok(Err(reason)) => {
            let _ = socket.send(Message::Text(reason.into())).await;
            return;
        }
        Err(_) => return,
    };
    let mut ticks = tokio::time::interval(POLL);
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + PING, PING);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = pings.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
                continue;
            }
            message = socket.recv() => match message {
                // The client closed, or went away.
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => continue,
            },
        }
        let (poll_state, poll_query, seen) = (state.clone(), query.clone(), shown.clone());
        let found = tokio::task::spawn_blocking(move || {
            let store = poll_state.store.current().map_err(|e| e.to_string())?;
            eval::lines_after(&store, &poll_query, &seen).map_err(|e| e.to_string())
        })
        .await;
        match found {
            Ok(Ok(new)) => {
                shown = new.shown;
                if (!new.lines.is_empty() || new.dropped > 0)
                    && send(&mut socket, &new.lines, new.dropped).await.is_err()
                {
                    return;
                }
            }
            Ok(Err(reason)) => {
                let _ = socket.send(Message::Text(reason.into())).await;
                return;
            }
            Err(_) => return,
        }
    }
}

async fn send(socket: &mut WebSocket, lines: &[Entry], dropped: u64) -> Result<(), axum::Error> {
    let mut streams: Vec<(eval::Labels, Vec<Value>)> = Vec::new();
    for entry in lines {
        let labels = entry.all_labels();
        let value = json!([entry.timestamp.to_string(), entry.line]);
        match streams.iter_mut().find(|(l, _)| *l == labels) {
            Some((_, values)) => values.push(value),
            None => streams.push((labels, vec![value])),
        }
    }
    let streams: Vec<Value> =
        streams.into_iter().map(|(labels, values)| json!({"stream": labels, "values": values})).collect();
    let dropped = if dropped == 0 { Value::Null } else { json!([{"labels": {}, "timestamp": "0", "count": dropped}]) };
    let message = json!({ "streams": streams, "dropped_entries": dropped });
    socket.send(Message::Text(message.to_string().into())).await
}
