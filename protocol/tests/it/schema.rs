//! If one of these fails, a wire message changed shape: other people's
//! clients may stop understanding our programs. Review the diff, and accept
//! it with `cargo insta review` (or `just bless`) only if it is deliberate.

#[test]
fn every_wire_message_has_a_reviewed_json_schema() {
    let schemas = protocol::schema::all();
    let mut names: Vec<&str> = schemas.iter().map(|schema| schema.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        schemas.len(),
        "two messages share a schema name"
    );
    for message in schemas {
        insta::assert_json_snapshot!(message.name.clone(), message.schema);
    }
}
