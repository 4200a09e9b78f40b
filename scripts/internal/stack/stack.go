// Package stack reads an OpenFaaS stack file the way faas-cli does: ${VAR}
// and ${VAR:-default} substituted from the environment first, each
// function's environment_file entries merged under its own environment.
package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Stack is a parsed stack file.
type Stack struct {
	Version       string              `yaml:"version"`
	Provider      Provider            `yaml:"provider"`
	Functions     map[string]Function `yaml:"functions"`
	Configuration Configuration       `yaml:"configuration"`
	// Dir is the folder the stack file is in; handler, template and copy
	// paths are relative to it.
	Dir string `yaml:"-"`
}

// Provider is the stack's provider section.
type Provider struct {
	Name    string `yaml:"name"`
	Gateway string `yaml:"gateway"`
}

// Configuration is the stack's configuration section.
type Configuration struct {
	Templates []struct {
		Name   string `yaml:"name"`
		Source string `yaml:"source"`
	} `yaml:"templates"`
	Copy []string `yaml:"copy"`
}

// Function is one function of the stack.
type Function struct {
	Name            string            `yaml:"-"`
	Lang            string            `yaml:"lang"`
	Handler         string            `yaml:"handler"`
	Image           string            `yaml:"image"`
	Environment     map[string]string `yaml:"environment"`
	EnvironmentFile []string          `yaml:"environment_file"`
	Secrets         []string          `yaml:"secrets"`
	Labels          map[string]string `yaml:"labels"`
	Annotations     map[string]string `yaml:"annotations"`
	Limits          *Resources        `yaml:"limits"`
	Requests        *Resources        `yaml:"requests"`
	// ReadOnlyRootFilesystem and Constraints are read for completeness;
	// the local runtime has no use for them.
	ReadOnlyRootFilesystem bool     `yaml:"readonly_root_filesystem"`
	Constraints            []string `yaml:"constraints"`
}

// Resources are limits or requests.
type Resources struct {
	Memory string `yaml:"memory"`
	CPU    string `yaml:"cpu"`
}

// Names returns the function names in order.
func (s *Stack) Names() []string {
	names := make([]string, 0, len(s.Functions))
	for n := range s.Functions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Path resolves a path of the stack file against its folder.
func (s *Stack) Path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.Dir, p)
}

var varPattern = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// Substitute replaces ${VAR} and ${VAR:-default} in text using lookup.
func Substitute(text string, lookup func(string) (string, bool)) string {
	return varPattern.ReplaceAllStringFunc(text, func(m string) string {
		sub := varPattern.FindStringSubmatch(m)
		if v, ok := lookup(sub[1]); ok && v != "" {
			return v
		}
		return sub[3]
	})
}

// Load reads the stack file at path, substituting variables from lookup
// (os.LookupEnv for the real environment).
func Load(path string, lookup func(string) (string, bool)) (*Stack, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Stack
	dec := yaml.NewDecoder(strings.NewReader(Substitute(string(raw), lookup)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	s.Dir = abs
	if len(s.Functions) == 0 {
		return nil, fmt.Errorf("%s: no functions", path)
	}
	var errs []error
	for name, fn := range s.Functions {
		fn.Name = name
		env := map[string]string{}
		for _, f := range fn.EnvironmentFile {
			fileEnv, err := loadEnvFile(s.Path(f), lookup)
			if err != nil {
				errs = append(errs, fmt.Errorf("function %s: %w", name, err))
				continue
			}
			for k, v := range fileEnv {
				env[k] = v
			}
		}
		for k, v := range fn.Environment {
			env[k] = v
		}
		fn.Environment = env
		switch {
		case fn.Lang == "":
			errs = append(errs, fmt.Errorf("function %s: no lang", name))
		case fn.Handler == "":
			errs = append(errs, fmt.Errorf("function %s: no handler", name))
		}
		s.Functions[name] = fn
	}
	return &s, errors.Join(errs...)
}

// loadEnvFile reads an environment_file: a YAML document with an
// "environment" map.
func loadEnvFile(path string, lookup func(string) (string, bool)) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f struct {
		Environment map[string]string `yaml:"environment"`
	}
	if err := yaml.Unmarshal([]byte(Substitute(string(raw), lookup)), &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f.Environment, nil
}

// Cron returns the cron-connector schedule of fn: its "schedule" annotation
// when it is annotated with topic cron-function.
func (fn Function) Cron() (schedule string, ok bool) {
	if fn.Annotations["topic"] != "cron-function" {
		return "", false
	}
	s := fn.Annotations["schedule"]
	return s, s != ""
}
