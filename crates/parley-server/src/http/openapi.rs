//! What the OpenAPI document says about every operation that the handlers'
//! annotations would each have to repeat: the error answers any request
//! can get (protocol.md §1, §11), which operations need no credential, and
//! the bounds of the shared query parameters. Applied once to the whole
//! document, so a new endpoint is documented as truthfully as the old.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// Operations that take no credential (a Bearer token is not required).
/// The unsubscribe link is opened from a mail client, where the signed
/// link itself is the credential (RFC 8058).
const PUBLIC: [&str; 5] = [
    "/auth/register",
    "/auth/login",
    "/auth/refresh",
    "/auth/logout",
    "/email/unsubscribe",
];

fn error(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| error(description));
}

fn complete(path: &str, op: &mut Operation) {
    let public = PUBLIC.contains(&path);
    if public {
        op.security = Some(Vec::new());
    }
    add(
        op,
        "400",
        "invalid_request: a malformed body, parameter or Content-Type",
    );
    if !public {
        add(op, "401", "unauthenticated: no valid credential");
    }
    add(
        op,
        "403",
        "forbidden or blocked: authenticated, but not allowed",
    );
    if path.contains('{') {
        add(
            op,
            "404",
            "not_found: it does not exist, or you may not see it",
        );
    }
    if op.request_body.is_some() {
        add(
            op,
            "413",
            "payload_too_large: the body or a field is too long",
        );
    }
    add(
        op,
        "414",
        "payload_too_large: the request target is too long",
    );
    add(op, "429", "rate_limited, with Retry-After");
    add(
        op,
        "503",
        "unavailable: a dependency is down; try again shortly",
    );
    for p in op.parameters.iter_mut().flatten() {
        if p.parameter_in != ParameterIn::Query {
            continue;
        }
        let number = match p.name.as_str() {
            "limit" => Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(parley_protocol::limits::MAX_PAGE)),
            ),
            "before" | "after" => Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0)),
            ),
            _ => None,
        };
        if let Some(number) = number {
            // `limit=` (empty) is the same as leaving it out.
            let empty = ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(0));
            p.schema = Some(RefOr::T(
                AnyOfBuilder::new().item(number).item(empty).into(),
            ));
        }
        if p.name == "query" {
            p.schema = Some(RefOr::T(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("2-64 characters after trimming"))
                    .min_length(Some(2))
                    .max_length(Some(64))
                    .into(),
            ));
        }
    }
}

/// Completes every operation of `doc`.
pub fn complete_all(doc: &mut OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            complete(path, op);
        }
    }
}
