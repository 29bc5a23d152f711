package node

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfigFile is the name of the config file looked for in the data
// directory when none is named.
const ConfigFile = "siteline.yaml"

// LoadConfig assembles the configuration: defaults, then the YAML file
// (path, or SITELINE_CONFIG, or DATA_DIR/siteline.yaml if it exists), then
// SITELINE_* variables, then flags (applied by the caller's override
// function), and validates the result.
func LoadConfig(path string, environ []string, flags func(*Config)) (Config, error) {
	cfg := Default()
	if path == "" {
		path = lookupEnv(environ, EnvPrefix+"CONFIG")
	}
	if path == "" {
		// The data directory may itself come from the environment or flags.
		probe := Default()
		if err := LoadEnv(&probe, environ); err != nil {
			return cfg, err
		}
		if flags != nil {
			flags(&probe)
		}
		candidate := filepath.Join(probe.DataDir, ConfigFile)
		if _, err := os.Stat(candidate); err == nil {
			path = candidate
		} else if !errors.Is(err, fs.ErrNotExist) {
			return cfg, err
		}
	}
	if path != "" {
		if err := LoadFile(&cfg, path); err != nil {
			return cfg, err
		}
	}
	if err := LoadEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	if flags != nil {
		flags(&cfg)
	}
	return cfg, cfg.Validate()
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}

// WriteConfigFile writes cfg to DATA_DIR/siteline.yaml unless a file is
// already there, so `siteline init` leaves an editable config behind.
func WriteConfigFile(cfg Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, ConfigFile)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	header := "# Siteline node configuration. Every key can also be set as SITELINE_<KEY>\n# (nested keys joined by _, e.g. SITELINE_HTTP_LISTEN) or by flags.\n"
	return os.WriteFile(path, append([]byte(header), data...), 0o600)
}
