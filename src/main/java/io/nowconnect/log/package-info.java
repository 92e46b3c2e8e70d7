/**
 * Logging: JUL set up from {@code NC_LOG_LEVEL} / {@code NC_LOG_FORMAT}, one line per event, plain or JSON, with
 * structured fields ({@code event}, {@code agent_id}, {@code cid}, {@code connector}, {@code reason}). Nothing here ever
 * receives a token or payload bytes: callers pass names and reasons only.
 */
package io.nowconnect.log;
