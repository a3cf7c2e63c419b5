//! The answers every operation can give besides its own: the handlers' annotations name what
//! their service call returns, and this adds what the layers in front of every handler return,
//! so that a client generated from `/v1/openapi.json` knows every status and body it meets.
//! Every error is a problem document (`application/problem+json`).

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::Response;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};

const PROBLEM: &str = "application/problem+json";
const PROBLEM_SCHEMA: &str = "#/components/schemas/ProblemDoc";

/// Paths that no credential, limit or audit record stands in front of.
const PROBES: &[&str] = &["/v1/health", "/v1/health/ready", "/v1/openapi.json"];

/// Adds the layers' answers to every operation of `doc`, and marks every problem document as
/// `application/problem+json`.
pub(crate) fn complete(doc: &mut OpenApi) {
    for (path, item) in &mut doc.paths.paths {
        let probe = PROBES.contains(&path.as_str());
        for op in
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
        {
            problems_as_problem_json(op);
            if !probe {
                add_layer_answers(op, path.contains('{'));
            }
        }
    }
}

/// What stands in front of every handler: authentication (a bad credential is 401 even where
/// none is needed), throttling of failures (429), the audit record written before the answer
/// (503 when it cannot be), and, for what takes input, its parsing (400), size (413) and
/// arrival deadline (408).
fn add_layer_answers(op: &mut Operation, has_path_params: bool) {
    let takes_body = op.request_body.is_some();
    let takes_params = has_path_params || op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let mut add = |status: &str, why: &str| {
        op.responses.responses.entry(status.to_owned()).or_insert_with(|| RefOr::T(problem_response(why)));
    };
    add("401", "The credential is missing, wrong, expired or revoked");
    add("429", "Too many failed attempts: retry after `Retry-After` seconds");
    add("503", "The audit record could not be written, so nothing was done");
    if takes_body || takes_params {
        add("400", "The request is malformed: the detail names what to change");
    }
    if has_path_params {
        add("404", "No such thing, or none the caller may see");
    }
    if takes_body {
        add("408", "The request body did not arrive in time");
        add("413", "The request body is larger than the limit");
    }
}

fn problem_response(description: &str) -> Response {
    let mut r = Response::new(description);
    r.content.insert(PROBLEM.to_owned(), RefOr::T(Content::new(Some(Ref::new(PROBLEM_SCHEMA)))));
    r
}

/// The annotations give problem documents as JSON; the API sends them as problem+json.
fn problems_as_problem_json(op: &mut Operation) {
    for response in op.responses.responses.values_mut() {
        let RefOr::T(r) = response else { continue };
        let is_problem = r.content.get("application/json").is_some_and(|c| match c {
            RefOr::T(c) => matches!(&c.schema, Some(RefOr::Ref(s)) if s.ref_location == PROBLEM_SCHEMA),
            RefOr::Ref(_) => false,
        });
        if is_problem && let Some(content) = r.content.shift_remove("application/json") {
            r.content.insert(PROBLEM.to_owned(), content);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_problem_json_and_every_operation_names_the_layers_answers() {
        let doc = crate::app::openapi();
        let json = serde_json::to_value(&doc).unwrap();
        let mut operations = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                for (status, r) in responses {
                    let content = r.get("content").and_then(|c| c.as_object());
                    if let Some(c) = content.and_then(|c| c.get("application/json")) {
                        assert_ne!(c["schema"]["$ref"], PROBLEM_SCHEMA, "{method} {path} {status}: a problem as JSON");
                    }
                }
                if !PROBES.contains(&path.as_str()) {
                    for status in ["401", "429", "503"] {
                        assert!(responses.contains_key(status), "{method} {path} lacks {status}");
                    }
                }
                operations += 1;
            }
        }
        assert!(operations > 50, "{operations}");
    }
}
