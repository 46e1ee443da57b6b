use catalog_core::Table as _;
use catalog_derive::Table;

/// Events, with a field named after a keyword.
#[derive(Table)]
#[table(database = "log", source = "csv", location = "events.csv")]
struct Event {
    /// Event kind.
    r#type: String,
    /// Whether it ran asynchronously.
    r#async: bool,
}

fn main() {
    let rows = [Event {
        r#type: "click".into(),
        r#async: false,
    }];
    let batch = Event::to_record_batch(&rows).unwrap();
    let back = Event::from_record_batch(&batch).unwrap();
    assert_eq!(back[0].r#type, "click");
    assert!(!back[0].r#async);
    // Column names and constants drop the `r#`.
    assert_eq!([Event::TYPE, Event::ASYNC], ["type", "async"]);
    assert!(Event::SPEC.column("type").is_some());
    assert_eq!(batch.schema().field(0).name(), "type");
}
