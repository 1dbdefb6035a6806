package index

import (
	"errors"
	"testing"
	"time"
)

const samplePage = `<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.1"><title>Links for demo</title></head>
<body>
<!-- <a href="commented-0.1.tar.gz">ignored</a> -->
<a href="../../files/demo-1.0-py3-none-any.whl#sha256=ABCDEF" data-requires-python="&gt;=3.8" data-core-metadata="sha256=1234">demo-1.0-py3-none-any.whl</a><br/>
<a href='https://files.example/demo-0.9.tar.gz#md5=00&amp;sha256=99' data-yanked="broken build">demo-0.9.tar.gz</a>
<a href=/abs/demo-0.8.zip data-dist-info-metadata="true">demo-0.8.zip</a>
<A HREF="../../files/demo-0.7-py3-none-any.whl" data-dist-info-metadata="sha256=aa" data-core-metadata="false">x</A>
<a>no href</a>
<a href="../../">no file name</a>
</body></html>`

func TestParseHTML(t *testing.T) {
	p, err := ParseHTML([]byte(samplePage), "https://idx.example/simple/demo/")
	if err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != "1.1" {
		t.Errorf("api version %q", p.APIVersion)
	}
	if len(p.Links) != 4 {
		t.Fatalf("links: %+v", p.Links)
	}
	l := p.Links[0]
	if l.URL != "https://idx.example/files/demo-1.0-py3-none-any.whl" || l.Hashes["sha256"] != "abcdef" || l.RequiresPython != ">=3.8" || !l.CoreMetadata || l.MetadataHashes["sha256"] != "1234" {
		t.Errorf("link 0: %+v", l)
	}
	l = p.Links[1]
	if !l.Yanked || l.YankedReason != "broken build" || l.Hashes["sha256"] != "99" || l.Hashes["md5"] != "00" || l.Filename != "demo-0.9.tar.gz" {
		t.Errorf("link 1: %+v", l)
	}
	if l := p.Links[2]; l.URL != "https://idx.example/abs/demo-0.8.zip" || !l.CoreMetadata || l.MetadataHashes != nil {
		t.Errorf("link 2: %+v", l)
	}
	// data-core-metadata wins over data-dist-info-metadata (PEP 714).
	if l := p.Links[3]; l.CoreMetadata {
		t.Errorf("link 3: %+v", l)
	}
}

func TestParseHTMLBaseHref(t *testing.T) {
	p, err := ParseHTML([]byte(`<html><head><base href="https://cdn.example/pkgs/"></head><a href="x-1.0.tar.gz">x</a>`), "https://idx.example/simple/x/")
	if err != nil {
		t.Fatal(err)
	}
	if p.Links[0].URL != "https://cdn.example/pkgs/x-1.0.tar.gz" {
		t.Errorf("url %s", p.Links[0].URL)
	}
}

const sampleJSON = `{
  "meta": {"api-version": "1.1"},
  "name": "demo",
  "files": [
    {"filename": "demo-1.0-py3-none-any.whl", "url": "../../files/demo-1.0-py3-none-any.whl",
     "hashes": {"SHA256": "ABC"}, "requires-python": ">=3.8", "core-metadata": {"sha256": "DEF"},
     "size": 1234, "upload-time": "2024-01-02T03:04:05.123456Z"},
    {"filename": "demo-0.9.tar.gz", "url": "https://files.example/demo-0.9.tar.gz#sha256=11",
     "hashes": {}, "yanked": "bad", "dist-info-metadata": true},
    {"filename": "demo-0.8.tar.gz", "url": "demo-0.8.tar.gz", "hashes": {}, "yanked": false}
  ]
}`

func TestParseJSON(t *testing.T) {
	p, err := ParseJSON([]byte(sampleJSON), "https://idx.example/simple/demo/")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "demo" || len(p.Links) != 3 {
		t.Fatalf("page: %+v", p)
	}
	l := p.Links[0]
	if l.URL != "https://idx.example/files/demo-1.0-py3-none-any.whl" || l.Hashes["sha256"] != "abc" || !l.CoreMetadata || l.MetadataHashes["sha256"] != "def" || l.Size != 1234 {
		t.Errorf("link 0: %+v", l)
	}
	if !l.UploadTime.Equal(time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)) {
		t.Errorf("upload time %v", l.UploadTime)
	}
	if l := p.Links[1]; !l.Yanked || l.YankedReason != "bad" || l.Hashes["sha256"] != "11" || !l.CoreMetadata {
		t.Errorf("link 1: %+v", l)
	}
	if l := p.Links[2]; l.Yanked || l.URL != "https://idx.example/simple/demo/demo-0.8.tar.gz" {
		t.Errorf("link 2: %+v", l)
	}
}

func TestParseJSONRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":       `<html>`,
		"no api version": `{"meta": {}, "files": []}`,
		"api 2":          `{"meta": {"api-version": "2.0"}, "files": []}`,
		"no url":         `{"meta": {"api-version": "1.0"}, "files": [{"filename": "a-1.tar.gz"}]}`,
		"bad yanked":     `{"meta": {"api-version": "1.0"}, "files": [{"filename": "a-1.tar.gz", "url": "a", "yanked": 3}]}`,
		"bad metadata":   `{"meta": {"api-version": "1.0"}, "files": [{"filename": "a-1.tar.gz", "url": "a", "core-metadata": 3}]}`,
	} {
		if _, err := ParseJSON([]byte(doc), "https://x/"); !errors.Is(err, ErrMalformedPage) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func FuzzParseHTML(f *testing.F) {
	f.Add([]byte(samplePage))
	f.Add([]byte(`<a href="x-1.0.tar.gz#sha256=00" data-yanked>`))
	f.Add([]byte(`<base href="//h/"><a href='../a-1-py3-none-any.whl' data-core-metadata=sha256=1>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseHTML(data, "https://idx.example/simple/p/")
		if err != nil {
			return
		}
		for _, l := range p.Links {
			if l.Filename == "" {
				t.Fatalf("link without file name: %+v", l)
			}
		}
	})
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(sampleJSON))
	f.Add([]byte(`{"meta": {"api-version": "1.0"}, "name": "x", "files": []}`))
	f.Add([]byte(`{"meta": {"api-version": "1.0"}, "files": [{"filename": "a-1.tar.gz", "url": "a#sha256=1", "yanked": true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseJSON(data, "https://idx.example/simple/p/")
		if err != nil {
			if !errors.Is(err, ErrMalformedPage) {
				t.Fatalf("error not ErrMalformedPage: %v", err)
			}
			return
		}
		for _, l := range p.Links {
			if l.Filename == "" || l.URL == "" {
				t.Fatalf("incomplete link: %+v", l)
			}
		}
	})
}
