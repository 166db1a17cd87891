/// Generates a service's swagger (OpenAPI 2.0) document from its schema, in the shape ML Server 9.2/9.3
/// serves at `/api/{name}/{version}/swagger.json`.
///
/// Used when a backend serves no document of its own, and by the REST server.
public enum SwaggerDocument {
    /// The swagger document for `service`.
    public static func make(for service: ServiceInfo) -> JSONValue {
        let api = service.apiPath
        let tags: JSONValue = [.string(service.name)]
        let security: JSONValue = [["Bearer": []]]
        let errorResponse: JSONValue = ["description": "Error", "schema": ["$ref": "#/definitions/Error"]]

        var paths = JSONObject()
        paths.append(
            "/login",
            [
                "post": [
                    "tags": ["User"], "operationId": "login", "summary": "Logs the user in",
                    "parameters": [["in": "body", "name": "LoginRequest", "required": true, "schema": ["$ref": "#/definitions/LoginRequest"]]],
                    "responses": [
                        "200": ["description": "OK", "schema": ["$ref": "#/definitions/AccessTokenResponse"]],
                        "default": ["description": "401 - Invalid Password", "schema": ["$ref": "#/definitions/Error"]],
                    ],
                ]
            ]
        )
        paths.append(
            "/login/refreshToken",
            [
                "post": [
                    "tags": ["User"], "operationId": "renewToken", "summary": "Renews the access token",
                    "parameters": [["in": "body", "name": "RenewTokenRequest", "required": true, "schema": ["$ref": "#/definitions/RenewTokenRequest"]]],
                    "responses": ["200": ["description": "OK", "schema": ["$ref": "#/definitions/AccessTokenResponse"]], "default": errorResponse],
                ],
                "delete": [
                    "tags": ["User"], "operationId": "revokeRefreshToken", "summary": "Revokes a refresh token",
                    "parameters": [["in": "query", "name": "refreshToken", "required": true, "type": "string"]],
                    "responses": ["200": ["description": "OK", "schema": ["$ref": "#/definitions/AccessTokenResponse"]], "default": errorResponse],
                ],
            ]
        )
        paths.append(
            api,
            [
                "post": [
                    "tags": tags, "operationId": .string(service.alias), "summary": .string(service.alias),
                    "description": .string(service.description ?? ""),
                    "parameters": [["in": "body", "name": "WebServiceParameters", "required": true, "schema": ["$ref": "#/definitions/InputParameters"]]],
                    "responses": [
                        "200": ["description": "OK", "schema": ["$ref": "#/definitions/WebServiceResult"]],
                        "400": ["description": "Bad Request"],
                        "500": ["description": "Internal Server Error"],
                        "default": errorResponse,
                    ],
                    "security": security,
                ]
            ]
        )
        paths.append(
            api + "/batch",
            [
                "post": [
                    "tags": tags, "operationId": "StartBatchExecution", "summary": "Start a batch execution",
                    "parameters": [
                        ["in": "body", "name": "BatchWebServiceParameters", "required": true, "schema": ["type": "array", "items": ["$ref": "#/definitions/InputParameters"]]],
                        ["in": "query", "name": "parallelCount", "required": false, "type": "integer", "format": "int32"],
                    ],
                    "responses": ["202": ["description": "Accepted", "schema": ["$ref": "#/definitions/StartBatchExecutionResponse"]], "default": errorResponse],
                    "security": security,
                ],
                "get": [
                    "tags": tags, "operationId": "GetBatchExecutions", "summary": "List batch executions",
                    "responses": ["200": ["description": "OK", "schema": ["type": "array", "items": ["type": "string"]]], "default": errorResponse],
                    "security": security,
                ],
            ]
        )
        paths.append(
            api + "/batch/{executionId}",
            [
                "get": [
                    "tags": tags, "operationId": "GetBatchExecutionStatus", "summary": "Batch execution status and results",
                    "parameters": [
                        ["in": "path", "name": "executionId", "required": true, "type": "string"],
                        ["in": "query", "name": "showPartialResults", "required": false, "type": "boolean"],
                    ],
                    "responses": ["200": ["description": "OK", "schema": ["$ref": "#/definitions/BatchWebServiceResult"]], "default": errorResponse],
                    "security": security,
                ],
                "delete": [
                    "tags": tags, "operationId": "CancelAndDeleteBatchExecution", "summary": "Cancel and delete a batch execution",
                    "parameters": [["in": "path", "name": "executionId", "required": true, "type": "string"]],
                    "responses": ["200": ["description": "OK", "schema": ["type": "array", "items": ["type": "string"]]], "default": errorResponse],
                    "security": security,
                ],
            ]
        )
        paths.append(
            api + "/batch/{executionId}/{index}/files",
            [
                "get": [
                    "tags": tags, "operationId": "GetBatchExecutionFiles", "summary": "Artifact names of one record",
                    "parameters": [
                        ["in": "path", "name": "executionId", "required": true, "type": "string"],
                        ["in": "path", "name": "index", "required": true, "type": "integer", "format": "int32"],
                    ],
                    "responses": ["200": ["description": "OK", "schema": ["type": "array", "items": ["type": "string"]]], "default": errorResponse],
                    "security": security,
                ]
            ]
        )
        paths.append(
            api + "/batch/{executionId}/{index}/files/{fileName}",
            [
                "get": [
                    "tags": tags, "operationId": "GetBatchExecutionFile", "summary": "One artifact of one record",
                    "produces": ["application/octet-stream"],
                    "parameters": [
                        ["in": "path", "name": "executionId", "required": true, "type": "string"],
                        ["in": "path", "name": "index", "required": true, "type": "integer", "format": "int32"],
                        ["in": "path", "name": "fileName", "required": true, "type": "string"],
                    ],
                    "responses": ["200": ["description": "OK", "schema": ["type": "file"]], "default": errorResponse],
                    "security": security,
                ]
            ]
        )

        var definitions = JSONObject()
        definitions.append("InputParameters", Self.parameterObject(service.inputs))
        definitions.append("OutputParameters", Self.parameterObject(service.outputs))
        definitions.append("Error", ["type": "object", "properties": ["code": ["type": "integer", "format": "int32"], "message": ["type": "string"], "fields": ["type": "string"]]])
        definitions.append(
            "WebServiceResult",
            [
                "type": "object",
                "properties": [
                    "success": ["type": "boolean"], "errorMessage": ["type": "string"], "consoleOutput": ["type": "string"],
                    "changedFiles": ["type": "array", "items": ["type": "string"]],
                    "outputFiles": ["type": "object", "additionalProperties": ["type": "string", "format": "byte"]],
                    "outputParameters": ["$ref": "#/definitions/OutputParameters"],
                ],
            ]
        )
        definitions.append("StartBatchExecutionResponse", ["type": "object", "properties": ["batchExecutionId": ["type": "string"]]])
        definitions.append(
            "BatchWebServiceResult",
            [
                "type": "object",
                "properties": [
                    "state": ["type": "string", "enum": ["pending", "inProgress", "ready", "complete"]],
                    "completedItemCount": ["type": "integer", "format": "int32"],
                    "totalItemCount": ["type": "integer", "format": "int32"],
                    "batchExecutionResults": ["type": "array", "items": ["$ref": "#/definitions/WebServiceResult"]],
                ],
            ]
        )
        definitions.append("LoginRequest", ["type": "object", "properties": ["username": ["type": "string"], "password": ["type": "string"]]])
        definitions.append("RenewTokenRequest", ["type": "object", "properties": ["refreshToken": ["type": "string"]]])
        definitions.append(
            "AccessTokenResponse",
            [
                "type": "object",
                "properties": ["token_type": ["type": "string"], "access_token": ["type": "string"], "expires_on": ["type": "string"], "refresh_token": ["type": "string"]],
            ]
        )

        return [
            "swagger": "2.0",
            "info": ["description": .string(service.description ?? ""), "title": .string(service.name), "version": .string(service.version)],
            "schemes": ["http", "https"],
            "securityDefinitions": ["Bearer": ["type": "apiKey", "name": "Authorization", "in": "header"]],
            "tags": [["name": .string(service.name), "description": .string(service.description ?? "")]],
            "consumes": ["application/json"],
            "produces": ["application/json"],
            "paths": .object(paths),
            "definitions": .object(definitions),
        ]
    }

    /// The JSON Schema of one ML Server type (observed for numeric and data.frame; the rest follow).
    public static func schema(for type: ParameterType) -> JSONValue {
        let description = JSONValue.string(type.rawValue)
        switch type {
        case .integer: return ["type": "integer", "description": description]
        case .numeric: return ["type": "number", "description": description]
        case .character: return ["type": "string", "description": description]
        case .logical: return ["type": "boolean", "description": description]
        case .vector: return ["type": "array", "items": [:], "description": description]
        case .matrix: return ["type": "array", "items": ["type": "array", "items": [:]], "description": description]
        case .dataFrame: return ["type": "object", "description": description]
        }
    }

    /// An object schema with one property per parameter, each typed by `schema` (this document's,
    /// or the OpenAPI rendition's).
    static func parameterObject(_ parameters: [ParameterDefinition], schema: (ParameterType) -> JSONValue = Self.schema(for:)) -> JSONValue {
        var properties = JSONObject()
        for parameter in parameters {
            properties.append(parameter.name, schema(parameter.type))
        }
        return ["type": "object", "properties": .object(properties)]
    }
}
