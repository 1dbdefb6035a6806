package services

import (
	"errors"
	"testing"
)

func TestValidateRejectsBadComponents(t *testing.T) {
	ok := Component{Name: "web", Instance: "prod", Command: []string{"/usr/bin/python3", "-m", "http.server"},
		Listen: []Listen{{Network: "tcp", Address: "127.0.0.1:8000"}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(c *Component){
		"relative command": func(c *Component) { c.Command[0] = "python3" },
		"no command":       func(c *Component) { c.Command = nil },
		"bad instance":     func(c *Component) { c.Instance = "Prod!" },
		"bad name":         func(c *Component) { c.Name = "" },
		"bad network":      func(c *Component) { c.Listen[0].Network = "udp" },
		"bad tcp address":  func(c *Component) { c.Listen[0].Address = "8000" },
		"relative unix":    func(c *Component) { c.Listen = []Listen{{Network: "unix", Address: "x.sock"}} },
		"env newline":      func(c *Component) { c.Env = map[string]string{"A": "x\ny"} },
		"restart policy":   func(c *Component) { c.Restart.When = "sometimes" },
		"ready w/o addr":   func(c *Component) { c.Listen = nil; c.Ready.Kind = ReadyHTTP },
		"negative uid":     func(c *Component) { c.UID = -1 },
		"bad self-bound":   func(c *Component) { c.SelfBound = []string{"8000"} },
		"held and self-bound": func(c *Component) {
			c.SelfBound = []string{"127.0.0.1:8000"}
		},
	}
	for name, mut := range cases {
		c := ok
		c.Command = append([]string(nil), ok.Command...)
		c.Listen = append([]Listen(nil), ok.Listen...)
		mut(&c)
		err := c.Validate()
		var ce *ComponentError
		if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate = %v, want *ComponentError/ErrInvalid", name, err)
		}
	}
}

func TestValidateAllFindsDuplicates(t *testing.T) {
	c := Component{Name: "web", Instance: "prod", Command: []string{"/bin/true"}}
	err := ValidateAll([]Component{c, c})
	if !errors.Is(err, ErrCollision) {
		t.Fatalf("got %v, want ErrCollision", err)
	}
	d := c
	d.Name, d.Instance = "worker", "staging"
	if err := ValidateAll([]Component{c, d}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("mixed instances: got %v", err)
	}
}

func TestSelfBoundAddressIsTheDefaultReadinessAddress(t *testing.T) {
	c := Component{Name: "web", Instance: "prod", Command: []string{"/usr/bin/python3", "-m", "http.server", "8000"},
		SelfBound: []string{"127.0.0.1:8000"}, Ready: Readiness{Kind: ReadyHTTP}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.FirstTCP(); got != "127.0.0.1:8000" {
		t.Fatalf("FirstTCP = %q", got)
	}
}
