package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Instruction is one Dockerfile instruction, continuation lines joined.
type Instruction struct {
	Line int
	Cmd  string // upper case: FROM, RUN, ...
	Args string
}

// Stage is one FROM … AS name section.
type Stage struct {
	Name         string
	Image        string
	Instructions []Instruction
}

// Dockerfile is a parsed Dockerfile: global ARGs (before the first FROM)
// and its stages.
type Dockerfile struct {
	GlobalArgs map[string]string
	Stages     []Stage
}

// Stage returns the stage called name.
func (d Dockerfile) Stage(name string) (Stage, bool) {
	for _, s := range d.Stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
}

// ParseDockerfile reads the subset of the Dockerfile syntax that templates
// use: comments, line continuations, ARG, FROM [--platform] image [AS name],
// and any other instruction kept verbatim for the caller to interpret.
func ParseDockerfile(r io.Reader) (Dockerfile, error) {
	d := Dockerfile{GlobalArgs: map[string]string{}}
	sc := bufio.NewScanner(r)
	var pending strings.Builder
	start, n := 0, 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if pending.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if pending.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		if err := d.add(start, pending.String()); err != nil {
			return d, err
		}
		pending.Reset()
	}
	if pending.Len() > 0 {
		return d, fmt.Errorf("line %d: unterminated continuation", start)
	}
	return d, sc.Err()
}

func (d *Dockerfile) add(line int, text string) error {
	cmd, args, _ := strings.Cut(text, " ")
	in := Instruction{Line: line, Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
	switch {
	case in.Cmd == "FROM":
		fields := strings.Fields(in.Args)
		for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
			fields = fields[1:]
		}
		if len(fields) == 0 {
			return fmt.Errorf("line %d: FROM without an image", line)
		}
		s := Stage{Image: fields[0]}
		if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
			s.Name = fields[2]
		}
		d.Stages = append(d.Stages, s)
	case len(d.Stages) == 0 && in.Cmd == "ARG":
		k, v, _ := strings.Cut(in.Args, "=")
		d.GlobalArgs[k] = v
	case len(d.Stages) == 0:
		return fmt.Errorf("line %d: %s before the first FROM", line, in.Cmd)
	default:
		last := &d.Stages[len(d.Stages)-1]
		last.Instructions = append(last.Instructions, in)
	}
	return nil
}

// expand substitutes $VAR, ${VAR} and ${VAR:-default} from vars.
func expand(s string, vars map[string]string) string {
	return os.Expand(s, func(key string) string {
		if name, def, ok := strings.Cut(key, ":-"); ok {
			if v := vars[name]; v != "" {
				return v
			}
			return def
		}
		return vars[key]
	})
}

// splitEnv parses the arguments of ENV: k=v pairs (values may be quoted) or
// the legacy "k v" form.
func splitEnv(args string) ([][2]string, error) {
	var out [][2]string
	if !strings.Contains(strings.Fields(args)[0], "=") {
		k, v, _ := strings.Cut(args, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	rest := strings.TrimSpace(args)
	for rest != "" {
		k, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, fmt.Errorf("ENV %q: expected key=value", rest)
		}
		var v string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				return nil, fmt.Errorf("ENV %q: unterminated quote", rest)
			}
			v, rest = after[1:end+1], after[end+2:]
		} else {
			v, rest, _ = strings.Cut(after, " ")
		}
		out = append(out, [2]string{strings.TrimSpace(k), v})
		rest = strings.TrimSpace(rest)
	}
	return out, nil
}
