// Calls the `cars` service (inputs `hp` and `wt`, output `answer`) through the client that
// swift-openapi-generator generated from the service's OpenAPI document, over MLDeploy's libcurl
// transport, which signs in with the server's `POST /login` and refreshes the token.
//
//     cars-client SERVER-URL USER PASSWORD

import Foundation
import MLDeployHTTP
import MLDeployOpenAPITransport

let arguments = CommandLine.arguments
guard arguments.count == 4, let server = URL(string: arguments[1]) else {
    FileHandle.standardError.write(Data("usage: cars-client SERVER-URL USER PASSWORD\n".utf8))
    exit(2)
}
let http = HTTPClient()
http.authentication.use(LoginTokenSource(baseURL: server, username: arguments[2], password: arguments[3]))
let client = Client(serverURL: server, transport: MLDeployClientTransport(client: http))

// The compiler checks the inputs' names and types: the service declared `hp` and `wt` numeric.
let response = try await client.consume(body: .json(.init(hp: 120, wt: 2.8)))
// `.ok` throws for any other answer (a 401, a 400 naming the wrong input), saying which.
let result = try response.ok.body.json
guard let answer = result.outputParameters?.answer else {
    print("the service answered without 'answer': \(result.errorMessage ?? "no message")")
    exit(1)
}
print("cars(hp: 120, wt: 2.8) = \(answer)")
