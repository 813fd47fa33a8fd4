//! The OpenAPI document, generated from the same resource list as the router.

use utoipa::ToSchema;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathItemBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Ref,
    RefOr, Required, ResponseBuilder, Schema,
};
use weft_api::{
    ErrorBody, POD_PORTS_PATH, PodAddress, PodPort, PodPortRequest, Resource, ResourceVisitor,
    ServerInfo, WatchEvent,
};
use weft_model::{GlobalConfig, UpdateGlobalConfig};

fn schema_ref<T: ToSchema>() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

fn json<T: Into<RefOr<Schema>>>(schema: T) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn ok(description: &str, schema: RefOr<Schema>) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json(schema))
        .build()
}

fn error(description: &str) -> utoipa::openapi::Response {
    ok(description, schema_ref::<ErrorBody>())
}

fn body(schema: RefOr<Schema>) -> Option<utoipa::openapi::request_body::RequestBody> {
    Some(
        RequestBodyBuilder::new()
            .content("application/json", json(schema))
            .required(Some(Required::True))
            .build(),
    )
}

fn target_parameter() -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name("target")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The object's UUID or FQ name"))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

struct Document {
    paths: PathsBuilder,
    components: ComponentsBuilder,
}

impl Document {
    fn add_schema<T: ToSchema>(&mut self) {
        let mut nested = Vec::new();
        T::schemas(&mut nested);
        let components = std::mem::take(&mut self.components);
        self.components = components
            .schemas_from_iter(nested)
            .schema(T::name(), T::schema());
    }

    fn add_path(&mut self, path: &str, item: PathItem) {
        let paths = std::mem::take(&mut self.paths);
        self.paths = paths.path(path, item);
    }
}

impl ResourceVisitor for Document {
    fn visit<R: Resource>(&mut self) {
        self.add_schema::<R::Object>();
        self.add_schema::<R::Create>();
        if R::UPDATABLE {
            self.add_schema::<R::Update>();
        }
        let name = R::NAME;
        let object = schema_ref::<R::Object>;
        let mut list = OperationBuilder::new()
            .operation_id(Some(format!("list-{name}")))
            .summary(Some(format!("List {name} objects")))
            .tag(name)
            .response(
                "200",
                ok("The objects", ArrayBuilder::new().items(object()).into()),
            )
            .response("400", error("A filter is unknown or does not resolve"));
        for filter in R::FILTERS {
            list = list.parameter(
                ParameterBuilder::new()
                    .name(*filter)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        let create = OperationBuilder::new()
            .operation_id(Some(format!("create-{name}")))
            .summary(Some(format!("Create a {name}")))
            .tag(name)
            .request_body(body(schema_ref::<R::Create>()))
            .response("201", ok("Created, durably", object()))
            .response("400", error("A field breaks a rule"))
            .response("409", error("Clashes with existing state"));
        self.add_path(
            R::PATH,
            PathItemBuilder::new()
                .operation(HttpMethod::Get, list)
                .operation(HttpMethod::Post, create)
                .build(),
        );

        let show = OperationBuilder::new()
            .operation_id(Some(format!("show-{name}")))
            .tag(name)
            .parameter(target_parameter())
            .response("200", ok("The object", object()))
            .response("404", error("No such object"));
        let delete = OperationBuilder::new()
            .operation_id(Some(format!("delete-{name}")))
            .tag(name)
            .parameter(target_parameter())
            .response("200", ok("Deleted; the object as it was", object()))
            .response("404", error("No such object"))
            .response("409", error("Still in use"));
        let mut item = PathItemBuilder::new()
            .operation(HttpMethod::Get, show)
            .operation(HttpMethod::Delete, delete);
        if R::UPDATABLE {
            let update = OperationBuilder::new()
                .operation_id(Some(format!("update-{name}")))
                .tag(name)
                .parameter(target_parameter())
                .request_body(body(schema_ref::<R::Update>()))
                .response("200", ok("Updated", object()))
                .response("400", error("A field breaks a rule"))
                .response("404", error("No such object"))
                .response("409", error("Clashes with existing state"));
            item = item.operation(HttpMethod::Patch, update);
        }
        self.add_path(&format!("{}/{{target}}", R::PATH), item.build());
    }
}

/// The OpenAPI 3.1 document of the native API.
pub fn document() -> OpenApi {
    let mut doc = Document {
        paths: PathsBuilder::new(),
        components: ComponentsBuilder::new(),
    };
    weft_api::visit_resources(&mut doc);
    doc.add_schema::<ErrorBody>();
    doc.add_schema::<ServerInfo>();
    doc.add_schema::<GlobalConfig>();
    doc.add_schema::<UpdateGlobalConfig>();
    doc.add_schema::<WatchEvent>();
    doc.add_schema::<PodPortRequest>();
    doc.add_schema::<PodAddress>();
    doc.add_schema::<PodPort>();
    doc.add_path(
        POD_PORTS_PATH,
        PathItem::new(
            HttpMethod::Post,
            OperationBuilder::new()
                .operation_id(Some("get-or-create-pod-port"))
                .description(Some(
                    "The port of a Kubernetes pod, made on first call (its UUID is the pod's \
                     UID) on the network the pod-network resolver picks",
                ))
                .request_body(body(schema_ref::<PodPortRequest>()))
                .response(
                    "200",
                    ok("The pod's existing port", schema_ref::<PodPort>()),
                )
                .response("201", ok("Created", schema_ref::<PodPort>()))
                .response(
                    "400",
                    error("A field breaks a rule, or the pod's network does not exist"),
                )
                .response("409", error("The pod's port is bound to another node")),
        ),
    );
    doc.add_path(
        "/",
        PathItem::new(
            HttpMethod::Get,
            OperationBuilder::new()
                .operation_id(Some("server-info"))
                .response("200", ok("What this server is", schema_ref::<ServerInfo>())),
        ),
    );
    doc.add_path(
        "/v1/global-config",
        PathItemBuilder::new()
            .operation(
                HttpMethod::Get,
                OperationBuilder::new()
                    .operation_id(Some("show-global-config"))
                    .response(
                        "200",
                        ok("The global configuration", schema_ref::<GlobalConfig>()),
                    ),
            )
            .operation(
                HttpMethod::Patch,
                OperationBuilder::new()
                    .operation_id(Some("update-global-config"))
                    .request_body(body(schema_ref::<UpdateGlobalConfig>()))
                    .response("200", ok("Updated", schema_ref::<GlobalConfig>()))
                    .response("400", error("A field breaks a rule")),
            )
            .build(),
    );
    let from = ParameterBuilder::new()
        .name("from")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some("First revision to send; default the next one"))
        .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)));
    let kind = ParameterBuilder::new()
        .name("kind")
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)));
    doc.add_path(
        "/v1/watch",
        PathItem::new(
            HttpMethod::Get,
            OperationBuilder::new()
                .operation_id(Some("watch"))
                .description(Some(
                    "Newline-delimited WatchEvent objects, one per changed object",
                ))
                .parameter(from)
                .parameter(kind)
                .response(
                    "200",
                    ResponseBuilder::new()
                        .description("A stream of events")
                        .content("application/x-ndjson", json(schema_ref::<WatchEvent>()))
                        .build(),
                )
                .response(
                    "410",
                    error("The history before that revision is compacted"),
                ),
        ),
    );
    doc.add_path(
        "/openapi.json",
        PathItem::new(
            HttpMethod::Get,
            OperationBuilder::new()
                .operation_id(Some("openapi"))
                .response("200", ok("This document", ObjectBuilder::new().into())),
        ),
    );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("weft native API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Projects, virtual networks, subnets, ports, security groups and nodes of one \
                     network plane shared by OpenStack and Kubernetes.",
                ))
                .build(),
        )
        .paths(doc.paths.build())
        .components(Some(doc.components.build()))
        .build()
}
