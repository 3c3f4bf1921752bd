package preflight

import (
	"strconv"
	"strings"
)

// evidenceLabels names each evidence key in words, for people: the tables and reports show
// the words, the JSON keeps the keys (docs/preflight-checks.md lists both).
var evidenceLabels = map[string]string{
	"address":            "platform address used",
	"addresses":          "addresses",
	"answered_by":        "answered by",
	"arp":                "ARP",
	"by_ip":              "by address",
	"by_name":            "by name",
	"chain":              "certificate chain",
	"cipher_suite":       "cipher suite",
	"content_type":       "content type",
	"device_address":     "device address",
	"device_gateway":     "device gateway",
	"device_trust":       "device trust",
	"error":              "error",
	"expected":           "expected address",
	"gateway":            "gateway",
	"gateway_error":      "gateway unknown",
	"health_status":      "platform health",
	"interface":          "interface",
	"issuer":             "certificate issuer",
	"kiss_code":          "kiss-of-death code",
	"laptop_address":     "laptop address",
	"laptop_addresses":   "laptop addresses",
	"laptop_gateway":     "laptop gateway",
	"laptop_trust":       "laptop trust",
	"leaf_not_after":     "certificate valid until",
	"location":           "redirect to",
	"mode":               "ICMP socket",
	"page_title":         "page title",
	"ping":               "ping",
	"privileged_error":   "raw socket error",
	"proxy":              "proxy",
	"proxy_auth":         "proxy authentication",
	"proxy_authenticate": "proxy asks for",
	"proxy_headers":      "proxy headers",
	"rcodes":             "DNS response codes",
	"reference_id":       "NTP reference",
	"resolver":           "resolver",
	"resolver_source":    "resolvers from",
	"resolvers":          "resolvers",
	"server":             "server",
	"source_ip":          "source address",
	"target":             "target",
	evidenceInspection:   "TLS inspection",
	"tls_version":        "TLS version",
	"unprivileged_error": "unprivileged socket error",
	"url":                "URL",
}

// envEvidencePrefix starts the evidence keys of this laptop's proxy variables (env_HTTPS_PROXY).
const envEvidencePrefix = "env_"

// metricLabel is a metric in words and the unit its value is shown in.
type metricLabel struct{ label, unit string }

// metricLabels names each metric key in words with its unit (the key carries the unit for
// the JSON: rtt_avg_ms).
var metricLabels = map[string]metricLabel{
	"address_count":      {"number of addresses", ""},
	"attempts":           {"attempts", ""},
	"connect_by_ip_ms":   {"connection by address", "ms"},
	"connect_by_name_ms": {"connection by name", "ms"},
	"connect_status":     {"CONNECT answer", ""},
	"handshake_ms":       {"TLS handshake", "ms"},
	"jitter_ms":          {"jitter", "ms"},
	"leaf_days_left":     {"days until the certificate expires", ""},
	"lookup_ms":          {"lookup time", "ms"},
	"loss_percent":       {"packet loss", "%"},
	"offset_ms":          {"clock offset of this laptop", "ms"},
	"packets_received":   {"echo replies received", ""},
	"packets_sent":       {"echo requests sent", ""},
	"proxy_connect_ms":   {"connection to the proxy", "ms"},
	"response_ms":        {"response time", "ms"},
	"rtt_avg_ms":         {"average round trip", "ms"},
	"rtt_max_ms":         {"longest round trip", "ms"},
	"rtt_min_ms":         {"shortest round trip", "ms"},
	"rtt_ms":             {"round trip", "ms"},
	"status_code":        {"HTTP status", ""},
	"stratum":            {"stratum", ""},
	"tunnel_ms":          {"tunnel through the proxy", "ms"},
}

// EvidenceLabel returns an evidence key in words ("certificate issuer" for issuer). A key
// this version does not know is shown with spaces for underscores.
func EvidenceLabel(key string) string {
	if l, ok := evidenceLabels[key]; ok {
		return l
	}
	if name, ok := strings.CutPrefix(key, envEvidencePrefix); ok {
		return "proxy variable " + name
	}
	return strings.ReplaceAll(key, "_", " ")
}

// MetricLabel returns a metric key in words ("average round trip" for rtt_avg_ms).
func MetricLabel(key string) string {
	if l, ok := metricLabels[key]; ok {
		return l.label
	}
	return strings.ReplaceAll(strings.TrimSuffix(key, "_ms"), "_", " ")
}

// MetricValue returns a metric's value with its unit ("12.3 ms", "25 %").
func MetricValue(key string, v float64) string {
	text := strconv.FormatFloat(v, 'f', -1, 64)
	unit := ""
	if l, ok := metricLabels[key]; ok {
		unit = l.unit
	} else if strings.HasSuffix(key, "_ms") {
		unit = "ms"
	}
	switch unit {
	case "":
		return text
	case "%":
		return text + "%"
	}
	return text + " " + unit
}

// knownEvidence reports whether the key has words of its own (tests hold every check to it).
func knownEvidence(key string) bool {
	_, ok := evidenceLabels[key]
	return ok || strings.HasPrefix(key, envEvidencePrefix)
}

// knownMetric reports whether the key has words of its own.
func knownMetric(key string) bool {
	_, ok := metricLabels[key]
	return ok
}
