package eventlog

import (
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// ErrFenced means a newer producer with the same transactional id took
// over: the fenced one must stop, and nothing it had in flight committed.
var ErrFenced = errors.New("fenced by a newer producer with the same transactional id")

// AbortTxn ends a transaction that failed with err and says why it failed:
// an error wrapping ErrFenced when the producer was fenced, else err.
//
// Brokers say "fenced" differently. Apache Kafka answers a fenced producer's
// sends and commit with INVALID_PRODUCER_EPOCH (47), kfake with
// INVALID_TXN_STATE (48); both then answer the abort with PRODUCER_FENCED
// (90), which sarama turns into a fatal transaction state. Any of these
// means fenced; an abort that fails otherwise leaves the producer unusable,
// and the caller starts a new one.
func AbortTxn(prod sarama.SyncProducer, err error) error {
	fenced := errors.Is(err, sarama.ErrProducerFenced) || errors.Is(err, sarama.ErrInvalidProducerEpoch)
	if aerr := prod.AbortTxn(); aerr != nil && (errors.Is(aerr, sarama.ErrProducerFenced) || errors.Is(aerr, sarama.ErrInvalidProducerEpoch)) {
		fenced = true
	}
	if fenced || prod.TxnStatus()&sarama.ProducerTxnFlagFatalError != 0 {
		return fmt.Errorf("%w: %v", ErrFenced, err)
	}
	return err
}
