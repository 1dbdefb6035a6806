package services_test

import (
	"fmt"

	"github.com/deploykit/deploykit/services"
)

func ExamplePlaceholders_ExpandAll() {
	p := services.Placeholders{Instance: "prod", Venv: "/srv/deploykit/instances/prod/current/venv", Port: "8001"}
	argv, err := p.ExpandAll([]string{"{venv}/bin/gunicorn", "demo.wsgi", "--bind", "127.0.0.1:{port}", "--name", "{instance}"})
	if err != nil {
		panic(err)
	}
	fmt.Println(argv)
	// Output:
	// [/srv/deploykit/instances/prod/current/venv/bin/gunicorn demo.wsgi --bind 127.0.0.1:8001 --name prod]
}
