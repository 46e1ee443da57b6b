//! Bound parameters: each `$n` a client binds becomes a DataFusion value of
//! the type the statement uses it as, so that the service binds it into the
//! plan. A parameter is never SQL text: it cannot change what a statement does.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::ScalarValue;
use pgwire::api::Type;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::results::FieldFormat;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use postgres_types::FromSql;

fn error(state: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_owned(),
        state.to_owned(),
        message,
    )))
}

/// Whether parameter `index` came in binary (a list of codes shorter than the
/// parameters means text, never a panic).
fn is_binary(format: &Format, index: usize) -> bool {
    match format {
        Format::Individual(codes) => codes.get(index) == Some(&1),
        other => other.format_for(index) == FieldFormat::Binary,
    }
}

/// The values of `portal`'s parameters: parameter `n` as `targets[n]`, the type
/// the statement uses it as, or as text where it does not say; `declared` are
/// the types the client gave, which say how to read a binary value.
pub fn values<S>(
    portal: &Portal<S>,
    declared: &[Type],
    targets: &[Option<DataType>],
) -> PgWireResult<Vec<ScalarValue>> {
    if portal.parameters.len() != targets.len() {
        return Err(error(
            "08P01",
            format!(
                "bind message supplies {} parameters, but the statement has {}",
                portal.parameters.len(),
                targets.len()
            ),
        ));
    }
    (0..targets.len())
        .map(|index| {
            let pg_type = declared.get(index).unwrap_or(&Type::UNKNOWN);
            let target = targets[index].clone().unwrap_or(DataType::Utf8);
            let value = match &portal.parameters[index] {
                None => ScalarValue::Null,
                Some(bytes) if is_binary(&portal.parameter_format, index) => {
                    binary(bytes, pg_type, index)?
                }
                Some(bytes) => {
                    ScalarValue::Utf8(Some(String::from_utf8(bytes.to_vec()).map_err(|_| {
                        error("22021", format!("parameter ${} is not UTF-8", index + 1))
                    })?))
                }
            };
            if value.data_type() == target {
                return Ok(value);
            }
            value.cast_to(&target).map_err(|cast| {
                error(
                    "22P02",
                    format!(
                        "parameter ${}: {value} is not a valid {target}: {cast}",
                        index + 1
                    ),
                )
            })
        })
        .collect()
}

/// A value sent in binary as `pg_type`.
fn binary(bytes: &[u8], pg_type: &Type, index: usize) -> PgWireResult<ScalarValue> {
    let bad = |_: Box<dyn std::error::Error + Send + Sync>| {
        error(
            "22P03",
            format!(
                "parameter ${} is not a binary {}",
                index + 1,
                pg_type.name()
            ),
        )
    };
    Ok(match *pg_type {
        Type::BOOL => ScalarValue::Boolean(Some(bool::from_sql(pg_type, bytes).map_err(bad)?)),
        Type::INT2 => ScalarValue::Int16(Some(i16::from_sql(pg_type, bytes).map_err(bad)?)),
        Type::INT4 => ScalarValue::Int32(Some(i32::from_sql(pg_type, bytes).map_err(bad)?)),
        Type::INT8 => ScalarValue::Int64(Some(i64::from_sql(pg_type, bytes).map_err(bad)?)),
        Type::FLOAT4 => ScalarValue::Float32(Some(f32::from_sql(pg_type, bytes).map_err(bad)?)),
        Type::FLOAT8 => ScalarValue::Float64(Some(f64::from_sql(pg_type, bytes).map_err(bad)?)),
        Type::DATE => {
            let date = NaiveDate::from_sql(pg_type, bytes).map_err(bad)?;
            let days = date.signed_duration_since(NaiveDate::default()).num_days();
            ScalarValue::Date32(Some(i32::try_from(days).map_err(|e| bad(Box::new(e)))?))
        }
        Type::TIMESTAMP => {
            let time = NaiveDateTime::from_sql(pg_type, bytes).map_err(bad)?;
            ScalarValue::TimestampMicrosecond(Some(time.and_utc().timestamp_micros()), None)
        }
        Type::TIMESTAMPTZ => {
            let time = DateTime::<Utc>::from_sql(pg_type, bytes).map_err(bad)?;
            ScalarValue::TimestampMicrosecond(Some(time.timestamp_micros()), Some("UTC".into()))
        }
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            ScalarValue::Utf8(Some(
                String::from_utf8(bytes.to_vec()).map_err(|e| bad(Box::new(e)))?,
            ))
        }
        _ => {
            return Err(error(
                "0A000",
                format!(
                    "parameter ${} of type {} in binary is not supported; send it as text",
                    index + 1,
                    pg_type.name()
                ),
            ));
        }
    })
}

/// The Postgres type a parameter used as `data_type` is described as.
pub fn described(data_type: Option<&DataType>) -> Type {
    match data_type {
        Some(DataType::Timestamp(TimeUnit::Microsecond, None)) => Type::TIMESTAMP,
        Some(data_type) => crate::encode::pg_type(data_type),
        None => Type::TEXT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn portal(parameters: Vec<Option<&str>>, format: Format) -> Portal<()> {
        let mut portal = Portal::<()>::default();
        portal.parameters = parameters
            .into_iter()
            .map(|p| p.map(|p| Bytes::copy_from_slice(p.as_bytes())))
            .collect();
        portal.parameter_format = format;
        portal
    }

    #[test]
    fn text_parameters_become_values_of_the_type_they_are_used_as() {
        let bound = portal(
            vec![Some("5"), Some("x' OR true --"), None],
            Format::UnifiedText,
        );
        let bound_values = values(
            &bound,
            &[],
            &[Some(DataType::Int32), None, Some(DataType::Int64)],
        )
        .unwrap();
        assert_eq!(
            bound_values,
            vec![
                ScalarValue::Int32(Some(5)),
                ScalarValue::Utf8(Some("x' OR true --".into())),
                ScalarValue::Int64(None)
            ]
        );
        let not_a_number = portal(vec![Some("five")], Format::UnifiedText);
        let refused = values(&not_a_number, &[], &[Some(DataType::Int32)]).unwrap_err();
        assert!(refused.to_string().contains("22P02") || format!("{refused:?}").contains("22P02"));
        let too_few = portal(vec![], Format::UnifiedText);
        assert!(values(&too_few, &[], &[None]).is_err());
    }

    #[test]
    fn binary_parameters_are_read_by_their_declared_type() {
        let mut bound = portal(vec![], Format::UnifiedBinary);
        bound.parameters = vec![Some(Bytes::copy_from_slice(&7i64.to_be_bytes()))];
        assert_eq!(
            values(&bound, &[Type::INT8], &[Some(DataType::Int32)]).unwrap(),
            vec![ScalarValue::Int32(Some(7))]
        );
        // Fewer format codes than parameters: text, not a panic.
        let short = portal(
            vec![Some("1"), Some("2")],
            Format::Individual(vec![0, 0, 1][..1].to_vec()),
        );
        assert!(values(&short, &[], &[None, None]).is_ok());
    }
}
