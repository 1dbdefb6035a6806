package broker

import (
	"errors"
	"testing"
)

// FuzzParseDefinitions: any input either parses into definitions that
// marshal and parse again to the same, or is refused with ErrDefinitions.
func FuzzParseDefinitions(f *testing.F) {
	f.Add([]byte(`{"queues":[{"name":"q","durable":true,"arguments":{"x-max-length":10}}],"exchanges":[],"bindings":[],"policies":[]}`))
	f.Add([]byte(`{"rabbit_version":"3.10.8","parameters":[],"policies":[{"vhost":"v","name":"p","pattern":"^q","apply-to":"queues","definition":{"message-ttl":60000},"priority":0}],"queues":[{"name":"q1","durable":true,"auto_delete":false,"arguments":{}}],"exchanges":[{"name":"ex1","type":"topic","durable":true}],"bindings":[{"source":"ex1","destination":"q1","destination_type":"queue","routing_key":"a.#","arguments":{}}]}`))
	f.Add([]byte(`{"users":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDefinitions(data)
		if err != nil {
			if !errors.Is(err, ErrDefinitions) {
				t.Fatalf("error without ErrDefinitions: %v", err)
			}
			return
		}
		b, err := d.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := ParseDefinitions(b)
		if err != nil {
			t.Fatalf("own output refused: %v\n%s", err, b)
		}
		b2, _ := d2.Marshal()
		if string(b) != string(b2) {
			t.Fatalf("not stable:\n%s\n%s", b, b2)
		}
	})
}
