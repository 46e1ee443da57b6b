use catalog_core::Table as _;
use catalog_derive::Table;

/// Every day of a calendar year, computed.
#[derive(Table)]
#[table(database = "util", source = "function", function = "calendar_days")]
struct CalendarDay {
    /// The day.
    day: catalog_core::chrono::NaiveDate,
}

fn main() {
    assert_eq!(CalendarDay::SPEC.qualified_name(), "util.calendar_day");
    assert_eq!(CalendarDay::SPEC.option("function"), Some("calendar_days"));
}
