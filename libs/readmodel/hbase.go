package readmodel

// Splits are the initial region boundaries of a table on HBase, so writes
// spread over regions from the start: messages by the first character of
// their thread's ULID, the account index by the first character of the
// account id. The setup script (k8s/base/setup/create-tables.rb) uses the
// same boundaries.
func Splits(table string) [][]byte {
	var chars string
	switch table {
	case TableMessages:
		chars = ulidChars
	case TableAccountThreads:
		chars = ulidChars + "abcdefghijklmnopqrstuvwxyz"
	case TableNumbers:
		// The first byte is a hash: 16 even ranges.
		out := make([][]byte, 0, 15)
		for i := 1; i < 16; i++ {
			out = append(out, []byte{byte(i << 4)})
		}
		return out
	default:
		return nil
	}
	out := make([][]byte, 0, len(chars))
	for i := 0; i < len(chars); i++ {
		out = append(out, []byte{chars[i]})
	}
	return out
}

// ulidChars are Crockford's base32 digits but 0, the split points of ULIDs.
const ulidChars = "123456789ABCDEFGHJKMNPQRSTVWXYZ"
