package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/deploykit/deploykit/instance/account"
)

// Definitions are a vhost's queues, exchanges, bindings and policies, in
// the form of RabbitMQ's definitions export but without vhost fields:
// each object is kept as the server wrote it (arguments, flags, fields
// this package does not know), so an import declares exactly what was
// exported.
type Definitions struct {
	Queues    []json.RawMessage `json:"queues"`
	Exchanges []json.RawMessage `json:"exchanges"`
	Bindings  []json.RawMessage `json:"bindings"`
	Policies  []json.RawMessage `json:"policies"`
}

// MaxDefinitionsSize bounds definitions read from an untrusted source.
const MaxDefinitionsSize = 16 << 20

// Len is the number of objects.
func (d *Definitions) Len() int {
	return len(d.Queues) + len(d.Exchanges) + len(d.Bindings) + len(d.Policies)
}

// Marshal encodes the definitions as JSON (what backups store).
func (d *Definitions) Marshal() ([]byte, error) {
	c := *d
	for _, l := range []*[]json.RawMessage{&c.Queues, &c.Exchanges, &c.Bindings, &c.Policies} {
		if *l == nil {
			*l = []json.RawMessage{}
		}
	}
	return json.Marshal(c)
}

// ParseDefinitions reads definitions from JSON, as Marshal writes them or
// as RabbitMQ exports a vhost (its rabbit_version and empty parameters
// are accepted and dropped). Everything else is refused with an error
// wrapping ErrDefinitions: other top-level keys (users, vhosts,
// permissions, parameters that are not empty), objects without their
// names, names that are not UTF-8 or longer than 255 bytes, bindings
// whose destination is neither a queue nor an exchange. Vhost fields are
// removed.
func ParseDefinitions(data []byte) (*Definitions, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrDefinitions, fmt.Sprintf(format, args...))
	}
	if len(data) > MaxDefinitionsSize {
		return nil, bad("%d bytes, more than %d", len(data), MaxDefinitionsSize)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, bad("%v", err)
	}
	if top == nil {
		return nil, bad("not a JSON object")
	}
	d := &Definitions{}
	for k, v := range top {
		var dst *[]json.RawMessage
		switch k {
		case "queues":
			dst = &d.Queues
		case "exchanges":
			dst = &d.Exchanges
		case "bindings":
			dst = &d.Bindings
		case "policies":
			dst = &d.Policies
		case "rabbit_version", "rabbitmq_version":
			continue
		case "parameters", "global_parameters", "topic_permissions":
			var l []json.RawMessage
			if err := json.Unmarshal(v, &l); err != nil || len(l) > 0 {
				return nil, bad("%q: runtime parameters and permissions are not carried", k)
			}
			continue
		default:
			return nil, bad("unknown key %q", k)
		}
		var l []json.RawMessage
		if err := json.Unmarshal(v, &l); err != nil {
			return nil, bad("%q: %v", k, err)
		}
		for i, raw := range l {
			obj, err := checkObject(k, raw)
			if err != nil {
				return nil, bad("%s[%d]: %v", k, i, err)
			}
			*dst = append(*dst, obj)
		}
	}
	return d, nil
}

// checkObject checks one object of kind and returns it without "vhost".
func checkObject(kind string, raw json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, errors.New("not a JSON object")
	}
	str := func(key string, required bool) (string, error) {
		v, ok := m[key]
		if !ok {
			if required {
				return "", fmt.Errorf("no %q", key)
			}
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("%q is not a string", key)
		}
		if !utf8.ValidString(s) || len(s) > 255 {
			return "", fmt.Errorf("%q is not UTF-8 of at most 255 bytes", key)
		}
		return s, nil
	}
	switch kind {
	case "queues", "exchanges", "policies":
		n, err := str("name", true)
		if err != nil {
			return nil, err
		}
		if n == "" {
			return nil, errors.New("empty name")
		}
		if kind == "policies" {
			if _, err := str("pattern", true); err != nil {
				return nil, err
			}
			var def map[string]json.RawMessage
			if err := json.Unmarshal(m["definition"], &def); err != nil || def == nil {
				return nil, errors.New(`"definition" is not an object`)
			}
		}
	case "bindings":
		if _, err := str("source", true); err != nil {
			return nil, err
		}
		d, err := str("destination", true)
		if err != nil {
			return nil, err
		}
		if d == "" {
			return nil, errors.New("empty destination")
		}
		t, err := str("destination_type", true)
		if err != nil {
			return nil, err
		}
		if t != "queue" && t != "exchange" {
			return nil, fmt.Errorf("destination_type %q", t)
		}
		if _, err := str("routing_key", false); err != nil {
			return nil, err
		}
	}
	delete(m, "vhost")
	return json.Marshal(m)
}

// Export reads a vhost's definitions, objects sorted (by name; bindings
// by source, destination and key) so that equal vhosts export equally.
func Export(ctx context.Context, admin *Admin, vhost string) (*Definitions, error) {
	var raw json.RawMessage
	if err := admin.do(ctx, "GET", nil, &raw, "definitions", vhost); err != nil {
		return nil, err
	}
	d, err := ParseDefinitions(raw)
	if err != nil {
		return nil, fmt.Errorf("broker: vhost %s: %w", vhost, err)
	}
	for _, l := range [][]json.RawMessage{d.Queues, d.Exchanges, d.Bindings, d.Policies} {
		sort.SliceStable(l, func(i, j int) bool { return bytes.Compare(sortKey(l[i]), sortKey(l[j])) < 0 })
	}
	return d, nil
}

func sortKey(raw json.RawMessage) []byte {
	var k struct {
		Name            string `json:"name"`
		Source          string `json:"source"`
		Destination     string `json:"destination"`
		DestinationType string `json:"destination_type"`
		RoutingKey      string `json:"routing_key"`
	}
	json.Unmarshal(raw, &k)
	return []byte(k.Name + "\x00" + k.Source + "\x00" + k.DestinationType + "\x00" + k.Destination + "\x00" + k.RoutingKey)
}

// Import declares definitions in a vhost (which must exist). Objects the
// vhost has already are left as they are if equal; a queue or exchange of
// the same name with other properties makes the server refuse the import.
func Import(ctx context.Context, admin *Admin, vhost string, defs *Definitions) error {
	body, err := defs.Marshal()
	if err != nil {
		return err
	}
	if err := admin.do(ctx, "POST", json.RawMessage(body), nil, "definitions", vhost); err != nil {
		return fmt.Errorf("broker: importing %d definitions into vhost %s: %w", defs.Len(), vhost, err)
	}
	return nil
}

// Replace makes the instance's vhost hold exactly defs: the vhost is
// deleted (queues, messages and connections with it) and provisioned
// again, then defs are imported. As with Provision, a vhost or user that
// is not the instance's is refused before anything changes. Re-running it
// after an interruption converges.
func Replace(ctx context.Context, admin *Admin, spec Spec, defs *Definitions) error {
	names := spec.Names
	if err := account.ValidateName(names.Instance); err != nil {
		return err
	}
	if err := admin.checkAdmin(ctx); err != nil {
		return err
	}
	st, err := admin.readState(ctx, names.Role)
	if err != nil {
		return err
	}
	if err := st.conflicts(names, admin.user); err != nil {
		return err
	}
	password, err := ensureSecret(spec.SecretsFile, spec.Owner)
	if err != nil {
		return err
	}
	if st.vhost != nil {
		if err := admin.do(ctx, "DELETE", nil, nil, "vhosts", names.Role); err != nil && !notFound(err) {
			return err
		}
		// The user's permissions went with the vhost.
		st.vhost, st.vhostPerms, st.userPerms = nil, nil, nil
	}
	log := spec.Logger
	if log == nil {
		log = discard
	}
	if _, err := provision(ctx, admin, names, st, password, log); err != nil {
		return err
	}
	return Import(ctx, admin, names.Role, defs)
}
