import NIOHTTP1

/// What a demo HTTP handler answers: a status, extra headers and a UTF-8 body.
package struct HTTPResponse: Sendable {
    /// The status.
    package var status: HTTPResponseStatus
    /// Headers besides `content-length` and `connection`, which the server sets.
    package var headers: HTTPHeaders
    /// The body text.
    package var body: String

    /// Creates a response.
    package init(status: HTTPResponseStatus, headers: HTTPHeaders = HTTPHeaders(), body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text response.
    package static func text(_ body: String, status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: ["content-type": contentType], body: body)
    }

    /// A JSON response.
    package static func json(_ body: String, status: HTTPResponseStatus = .ok, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, body: body)
    }

    /// 404 for paths the server does not know.
    package static func notFound(_ path: String) -> HTTPResponse {
        .text("No such path: \(path)\n", status: .notFound)
    }
}
