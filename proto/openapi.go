// Package proto carries the generated Falcon API and its OpenAPI document.
package proto

import _ "embed"

// OpenAPI is the merged OpenAPI (v2) document of every REST route, served by
// every REST server at /openapi.json.
//
//go:embed gen/openapi/falcon.swagger.json
var OpenAPI []byte
