//! Named parameters: a statement written with `:name` placeholders and
//! bound with `name = value` pairs ([`named!`]), so a column and its value
//! sit side by side and a value used by several statements of one round
//! trip is written once.
//!
//! sqlx binds SQLite parameters by position or by number (`?NNN`), not by
//! name; and numbers do not survive a query of several statements (a
//! statement that skips a number leaves a nameless parameter, which sqlx
//! binds by position and so runs past the values). So [`Named::new`]
//! rewrites each `:name` as a plain `?` and binds its value again at each
//! place it is used. The rewritten text is the same on every call, so the
//! connection's statement cache still finds it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use sqlx::error::BoxDynError;
use sqlx::sqlite::SqliteArguments;
use sqlx::{Arguments as _, Encode, Sqlite, Type};

/// A statement with `:name` placeholders, bound by name: the SQL (each
/// `:name` rewritten as `?`) and the values in the order of their places.
/// Cloning is cheap enough for a write that may run more than once.
#[derive(Debug, Clone)]
pub struct Named {
    sql: Arc<str>,
    arguments: SqliteArguments<'static>,
}

/// Adds one value (again) to a statement's arguments.
pub type Binder =
    Box<dyn Fn(&mut SqliteArguments<'static>) -> Result<(), BoxDynError> + Send + Sync>;

/// Binds each `name = value` to the `:name` placeholders of `$sql`: a
/// [`Named`] statement, or (`?`) the error of a placeholder without a value,
/// a value without a placeholder, or a value that does not encode.
macro_rules! named {
    ($sql:expr, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::db::named::Named::new(
            $sql,
            &[$((stringify!($name), $crate::db::named::binder($value))),+],
        )?
    };
}
pub(crate) use named;

/// The [`Binder`] of `value`.
pub fn binder<T>(value: T) -> Binder
where
    T: Encode<'static, Sqlite> + Type<Sqlite> + Clone + Send + Sync + 'static,
{
    Box::new(move |arguments| arguments.add(value.clone()))
}

impl Named {
    /// `sql` with each `:name` replaced by `?`, and the value of `name` in
    /// `values` bound at its place. A placeholder without a value, or a
    /// value without a placeholder, is a programming error, refused here
    /// rather than bound as NULL. The rewriting is done once per text;
    /// only the binding is done on every call.
    pub fn new(sql: &'static str, values: &[(&str, Binder)]) -> sqlx::Result<Named> {
        let places = Places::of(sql);
        let mut arguments = SqliteArguments::default();
        let mut used = vec![false; values.len()];
        for name in places.names.iter() {
            let position = values
                .iter()
                .position(|(known, _)| *known == &**name)
                .ok_or_else(|| unbound(format!("placeholder :{name} has no value")))?;
            used[position] = true;
            (values[position].1)(&mut arguments).map_err(sqlx::Error::Encode)?;
        }
        if let Some(unused) = used.iter().position(|used| !used) {
            return Err(unbound(format!(
                "value {} has no :{0} placeholder",
                values[unused].0
            )));
        }
        Ok(Named {
            sql: Arc::clone(&places.positional),
            arguments,
        })
    }

    /// The SQL, with positional placeholders.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The values, for `sqlx::query_with` and its siblings.
    pub fn arguments(&self) -> SqliteArguments<'static> {
        self.arguments.clone()
    }

    /// `sqlx::query_with` over this statement.
    pub fn query(&self) -> sqlx::query::Query<'_, sqlx::Sqlite, SqliteArguments<'_>> {
        sqlx::query_with(&self.sql, self.arguments())
    }

    /// `sqlx::query_as_with` over this statement.
    pub fn query_as<T>(&self) -> sqlx::query::QueryAs<'_, sqlx::Sqlite, T, SqliteArguments<'_>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    {
        sqlx::query_as_with(&self.sql, self.arguments())
    }

    /// `sqlx::query_scalar_with` over this statement.
    pub fn query_scalar<T>(
        &self,
    ) -> sqlx::query::QueryScalar<'_, sqlx::Sqlite, T, SqliteArguments<'_>>
    where
        (T,): for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
    {
        sqlx::query_scalar_with(&self.sql, self.arguments())
    }
}

/// A statement's text rewritten for positional binding: each `:name` as
/// `?`, and the names in the order of their places.
struct Places {
    positional: Arc<str>,
    names: Box<[Box<str>]>,
}

/// Every statement text rewritten so far: a fixed set, the server's own.
static REWRITTEN: LazyLock<Mutex<HashMap<&'static str, Arc<Places>>>> =
    LazyLock::new(Mutex::default);

impl Places {
    /// The places of `sql`, rewritten the first time it is seen (the
    /// account's statement is long enough that rewriting it on every
    /// signup showed in the profile).
    fn of(sql: &'static str) -> Arc<Places> {
        let mut rewritten = REWRITTEN.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            rewritten
                .entry(sql)
                .or_insert_with(|| Arc::new(Places::rewrite(sql))),
        )
    }

    fn rewrite(sql: &str) -> Places {
        let mut positional = String::with_capacity(sql.len());
        let mut names = Vec::new();
        let mut rest = sql;
        while let Some(start) = rest.find([':', '\'']) {
            positional.push_str(&rest[..start]);
            rest = &rest[start..];
            if rest.starts_with('\'') {
                // A string literal, copied as it is (`''` is a quote inside).
                let end = rest[1..].find('\'').map_or(rest.len(), |end| end + 2);
                positional.push_str(&rest[..end]);
                rest = &rest[end..];
                continue;
            }
            let length = rest[1..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len() - 1);
            names.push(rest[1..1 + length].into());
            positional.push('?');
            rest = &rest[1 + length..];
        }
        positional.push_str(rest);
        Places {
            positional: positional.into(),
            names: names.into(),
        }
    }
}

fn unbound(message: String) -> sqlx::Error {
    sqlx::Error::Protocol(format!("named parameters: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(sql: &'static str, names: &[&str]) -> sqlx::Result<Named> {
        let values: Vec<(&str, Binder)> = names
            .iter()
            .map(|name| (*name, binder(name.to_string())))
            .collect();
        Named::new(sql, &values)
    }

    #[test]
    fn each_name_becomes_a_place_of_its_value() {
        fn check(sql: &'static str, names: &[&str], expected: &str, bound: usize) {
            let named = statement(sql, names).expect("binds");
            assert_eq!(named.sql(), expected, "{sql}");
            assert_eq!(sqlx::Arguments::len(&named.arguments()), bound, "{sql}");
        }
        check("SELECT :a, :b", &["a", "b"], "SELECT ?, ?", 2);
        // Rewritten once per text; each call binds its own values.
        let (first, again) = (
            statement("SELECT :a, :b", &["a", "b"]).unwrap(),
            statement("SELECT :a, :b", &["b", "a"]).unwrap(),
        );
        assert!(Arc::ptr_eq(&first.sql, &again.sql));
        check("SELECT :b, :a", &["a", "b"], "SELECT ?, ?", 2);
        // A value is bound again at every use of its name, across statements.
        check(
            "INSERT INTO t VALUES (:id, :now); UPDATE u SET at = :now WHERE id = :id",
            &["id", "now"],
            "INSERT INTO t VALUES (?, ?); UPDATE u SET at = ? WHERE id = ?",
            4,
        );
        // Names end at the first character that is not part of one.
        check("(:a_1,:b)", &["a_1", "b"], "(?,?)", 2);
        // A colon inside a string literal is text, not a placeholder.
        check(
            "SELECT 'a:b', 'it''s :x', :x",
            &["x"],
            "SELECT 'a:b', 'it''s :x', ?",
            1,
        );
    }

    /// A typo in a name would otherwise bind NULL silently.
    #[test]
    fn a_placeholder_without_a_value_or_a_value_without_one_is_refused() {
        for (sql, names, needle) in [
            ("SELECT :a, :c", &["a"][..], ":c has no value"),
            ("SELECT :a", &["a", "b"][..], "b has no :b placeholder"),
        ] {
            let error = statement(sql, names).expect_err(sql).to_string();
            assert!(error.contains(needle), "{sql}: {error}");
        }
    }

    /// Values reach their places in every statement of one query, however
    /// the statements order and skip the names.
    #[tokio::test]
    async fn named_values_reach_their_places_across_statements() {
        use sqlx::Connection as _;
        let mut connection = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .expect("opens");
        let read = async {
            let statement = named!(
                "CREATE TEMP TABLE t (a, b, c);
                 INSERT INTO t VALUES (:a, :b, :c);
                 UPDATE t SET b = :c || '-' || :b WHERE a = :a;
                 SELECT a || '-' || b || '-' || c FROM t WHERE c = :c",
                a = 7_i64,
                b = "x".to_owned(),
                c = Some("z".to_owned()),
            );
            statement
                .query_scalar::<String>()
                .fetch_one(&mut connection)
                .await
        };
        assert_eq!(read.await.expect("reads"), "7-z-x-z");
    }
}
