/// A service's API as an OpenAPI 3.0 document: the consume call (`POST /api/{name}/{version}`,
/// operation id the service's alias), its batch calls and login, with the declared inputs and
/// outputs as typed schemas.
///
/// ML Server serves Swagger 2.0 (``SwaggerDocument``), which Apple's swift-openapi-generator does
/// not read; this rendition is what typed clients are generated from (`mldeploy openapi`,
/// `GET /api/{name}/{version}/openapi.json`). Parameter types become schemas a generator can type:
/// `numeric` a double, `integer` an int64, `character` a string, `logical` a boolean, `vector` an
/// array, `matrix` an array of arrays, `data.frame` an object of columns.
public enum OpenAPIDocument {
    /// The OpenAPI 3.0.3 document for `service`; `serverURL` (the server's base URL, e.g.
    /// `http://127.0.0.1:12800`) goes into `servers` when given.
    public static func make(for service: ServiceInfo, serverURL: String? = nil) -> JSONValue {
        let api = service.apiPath
        let tags: JSONValue = [.string(service.name)]
        let bearer: JSONValue = [["bearerAuth": []]]
        let error: JSONValue = ["description": "An error", "content": ["application/json": ["schema": ["$ref": "#/components/schemas/Error"]]]]
        func body(_ schema: JSONValue) -> JSONValue { ["required": true, "content": ["application/json": ["schema": schema]]] }
        func reference(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
        func ok(_ description: String, _ schema: JSONValue) -> JSONValue {
            ["description": .string(description), "content": ["application/json": ["schema": schema]]]
        }
        let strings: JSONValue = ["type": "array", "items": ["type": "string"]]
        let executionID: JSONValue = ["name": "executionId", "in": "path", "required": true, "schema": ["type": "string"]]
        let index: JSONValue = ["name": "index", "in": "path", "required": true, "schema": ["type": "integer", "format": "int32"]]

        var paths = JSONObject()
        paths.append("/login", [
            "post": [
                "tags": ["User"], "operationId": "login", "summary": "Log in; the answer's access_token is the bearer token",
                "requestBody": body(reference("LoginRequest")),
                "responses": ["200": ok("Tokens", reference("AccessTokenResponse")), "default": error],
            ],
        ])
        paths.append(api, [
            "post": [
                "tags": tags, "operationId": .string(service.alias), "summary": .string("Call \(service.name) \(service.version)"),
                "description": .string(service.description ?? ""),
                "requestBody": body(reference("InputParameters")),
                "responses": ["200": ok("The call's result", reference("WebServiceResult")), "default": error],
                "security": bearer,
            ],
        ])
        paths.append(api + "/batch", [
            "post": [
                "tags": tags, "operationId": "startBatchExecution", "summary": "Start a batch execution",
                "parameters": [["name": "parallelCount", "in": "query", "required": false, "schema": ["type": "integer", "format": "int32"]]],
                "requestBody": body(["type": "array", "items": reference("InputParameters")]),
                "responses": ["202": ok("Started", reference("StartBatchExecutionResponse")), "default": error],
                "security": bearer,
            ],
            "get": [
                "tags": tags, "operationId": "getBatchExecutions", "summary": "List batch executions",
                "responses": ["200": ok("Execution ids", strings), "default": error], "security": bearer,
            ],
        ])
        paths.append(api + "/batch/{executionId}", [
            "get": [
                "tags": tags, "operationId": "getBatchExecutionStatus", "summary": "Batch execution status and results",
                "parameters": [executionID, ["name": "showPartialResults", "in": "query", "required": false, "schema": ["type": "boolean"]]],
                "responses": ["200": ok("Status", reference("BatchWebServiceResult")), "default": error], "security": bearer,
            ],
            "delete": [
                "tags": tags, "operationId": "cancelAndDeleteBatchExecution", "summary": "Cancel and delete a batch execution",
                "parameters": [executionID],
                "responses": ["200": ok("Deleted", strings), "default": error], "security": bearer,
            ],
        ])
        paths.append(api + "/batch/{executionId}/{index}/files", [
            "get": [
                "tags": tags, "operationId": "getBatchExecutionFiles", "summary": "Artifact names of one record",
                "parameters": [executionID, index],
                "responses": ["200": ok("File names", strings), "default": error], "security": bearer,
            ],
        ])
        paths.append(api + "/batch/{executionId}/{index}/files/{fileName}", [
            "get": [
                "tags": tags, "operationId": "getBatchExecutionFile", "summary": "One artifact of one record",
                "parameters": [executionID, index, ["name": "fileName", "in": "path", "required": true, "schema": ["type": "string"]]],
                "responses": [
                    "200": ["description": "The file", "content": ["application/octet-stream": ["schema": ["type": "string", "format": "binary"]]]],
                    "default": error,
                ],
                "security": bearer,
            ],
        ])

        var schemas = JSONObject()
        schemas.append("InputParameters", SwaggerDocument.parameterObject(service.inputs, schema: Self.schema(for:)))
        schemas.append("OutputParameters", SwaggerDocument.parameterObject(service.outputs, schema: Self.schema(for:)))
        schemas.append("Error", [
            "type": "object",
            "properties": ["message": ["type": "string"], "exceptionType": ["type": "string"], "code": ["type": "integer", "format": "int32"], "link": ["type": "string", "nullable": true]],
        ])
        schemas.append("WebServiceResult", [
            "type": "object",
            "properties": [
                "success": ["type": "boolean"], "errorMessage": ["type": "string"], "consoleOutput": ["type": "string"],
                "changedFiles": strings, "outputFiles": ["type": "object", "additionalProperties": ["type": "string", "format": "byte"]],
                "outputParameters": reference("OutputParameters"),
            ],
        ])
        schemas.append("StartBatchExecutionResponse", ["type": "object", "properties": ["batchExecutionId": ["type": "string"]]])
        schemas.append("BatchWebServiceResult", [
            "type": "object",
            "properties": [
                "state": ["type": "string"], "completedItemCount": ["type": "integer", "format": "int32"], "totalItemCount": ["type": "integer", "format": "int32"],
                "batchExecutionResults": ["type": "array", "items": reference("WebServiceResult")],
            ],
        ])
        schemas.append("LoginRequest", ["type": "object", "required": ["username", "password"], "properties": ["username": ["type": "string"], "password": ["type": "string"]]])
        schemas.append("AccessTokenResponse", [
            "type": "object",
            "properties": ["token_type": ["type": "string"], "access_token": ["type": "string"], "expires_on": ["type": "string"], "refresh_token": ["type": "string"]],
        ])

        var document: JSONObject = [
            "openapi": "3.0.3",
            "info": ["title": .string(service.name), "version": .string(service.version), "description": .string(service.description ?? "")],
        ]
        if let serverURL { document["servers"] = [["url": .string(serverURL)]] }
        document["tags"] = [["name": .string(service.name)]]
        document["paths"] = .object(paths)
        document["components"] = [
            "schemas": .object(schemas),
            "securitySchemes": ["bearerAuth": ["type": "http", "scheme": "bearer"]],
        ]
        return .object(document)
    }

    /// The schema of one parameter type: the Swagger document's, with what a generator needs to
    /// type it — number formats, and a data frame's columns as arrays.
    public static func schema(for type: ParameterType) -> JSONValue {
        guard type != .dataFrame, var schema = SwaggerDocument.schema(for: type).objectValue else {
            // Any JSON cell: a column's values may be numbers, text or booleans.
            return ["type": "object", "additionalProperties": ["type": "array", "items": [:]], "description": "data.frame: column name → values"]
        }
        switch type {
        case .integer: schema["format"] = "int64"
        case .numeric: schema["format"] = "double"
        default: break
        }
        return .object(schema)
    }
}
