package systemd_test

import (
	"fmt"

	"github.com/deploykit/deploykit/services"
	"github.com/deploykit/deploykit/services/systemd"
)

func ExampleRender() {
	units, err := systemd.Render("prod", []services.Component{{
		Name: "web", Instance: "prod", User: "dk-prod", Group: "dk-prod",
		Command: []string{"/srv/deploykit/instances/prod/current/venv/bin/gunicorn", "demo.wsgi"},
		Listen:  []services.Listen{{Network: "tcp", Address: "127.0.0.1:8001"}},
	}})
	if err != nil {
		panic(err)
	}
	for _, u := range units {
		fmt.Println(u.Name)
	}
	// Output:
	// deploykit-prod-web.service
	// deploykit-prod-web.socket
	// deploykit-prod.target
}
