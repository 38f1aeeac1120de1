package stream

// Position is position, for the tests of package stream_test.
var Position = position
