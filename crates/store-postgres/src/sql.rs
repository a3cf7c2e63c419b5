//! The parts of sqlx this crate uses, taken from sqlx's own crates (the workspace manifest
//! says why not from the `sqlx` facade).

pub(crate) use sqlx_core::connection::Connection;
pub(crate) use sqlx_core::decode::Decode;
pub(crate) use sqlx_core::error::{DatabaseError, Error};
pub(crate) use sqlx_core::pool::PoolConnection;
pub(crate) use sqlx_core::query::{Query, query};
pub(crate) use sqlx_core::query_builder::QueryBuilder;
pub(crate) use sqlx_core::query_scalar::query_scalar;
pub(crate) use sqlx_core::raw_sql::raw_sql;
pub(crate) use sqlx_core::row::Row;
pub(crate) use sqlx_core::sql_str::AssertSqlSafe;
pub(crate) use sqlx_core::types::Type;
pub(crate) use sqlx_postgres::{
    PgArguments, PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions, PgRow, Postgres,
};

/// A statement with its parameters bound.
pub(crate) type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// A statement whose text is built at run time from constants of this crate (column lists,
/// table names), never from input: values are always bound parameters.
pub(crate) fn dynamic(text: String) -> PgQuery<'static> {
    query(AssertSqlSafe(text))
}
