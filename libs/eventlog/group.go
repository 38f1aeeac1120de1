package eventlog

import (
	"context"
	"errors"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
)

// Consume runs a consumer group's sessions until ctx ends, rejoining after a
// session that ends in error, and logs the group's errors. The caller closes
// the group when Consume returns (after stopping what the handler started).
func Consume(ctx context.Context, group sarama.ConsumerGroup, topic string, h sarama.ConsumerGroupHandler, log *zap.Logger) {
	errsDone := make(chan struct{})
	go func() {
		defer close(errsDone)
		for {
			select {
			case err, ok := <-group.Errors():
				if !ok {
					return
				}
				log.Warn("consumer group error", zap.Error(err))
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() { <-errsDone }()
	for ctx.Err() == nil {
		if err := group.Consume(ctx, []string{topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
			log.Warn("consumer group session ended with an error; rejoining", zap.Error(err))
			_ = Sleep(ctx, 500*time.Millisecond)
		}
	}
}
