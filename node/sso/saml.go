package sso

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"siteline/storage"
)

// serviceProvider builds the organisation's SAML service provider from its
// stored settings: the IdP's metadata with its signing certificates, this
// side's key pair, and a replay cache in the store.
func (s *Service) serviceProvider(ctx context.Context, st storage.SSOSettings) (*saml.ServiceProvider, error) {
	m := st.SAML
	idp, err := ParseIdPMetadata(m.IdPMetadata)
	if err != nil {
		return nil, fmt.Errorf("stored IdP metadata of %s: %w", st.OrgID, err)
	}
	pair, err := tls.X509KeyPair([]byte(m.SPCert), []byte(m.SPKey))
	if err != nil {
		return nil, fmt.Errorf("stored SAML key pair of %s: %w", st.OrgID, err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, err
	}
	base := s.baseURL()
	metadata, _ := url.Parse(base + MetadataPath(st.OrgID))
	acs, _ := url.Parse(base + ACSPath(st.OrgID))
	slo, _ := url.Parse(base + SLOPath(st.OrgID))
	signer, _ := pair.PrivateKey.(crypto.Signer)
	return &saml.ServiceProvider{
		EntityID:                         metadata.String(),
		Key:                              signer,
		Certificate:                      cert,
		MetadataURL:                      *metadata,
		AcsURL:                           *acs,
		SloURL:                           *slo,
		LogoutSignatureMethod:            dsig.RSASHA256SignatureMethod,
		LogoutBindings:                   []string{saml.HTTPRedirectBinding},
		IDPMetadata:                      idp,
		AllowIDPInitiated:                m.AllowIdPInitiated,
		AssertionConsumerServiceBindings: []string{saml.HTTPPostBinding},
		ReplayCache:                      replayCache{ctx: ctx, store: s.store},
		RejectSHA1Signatures:             true,
		Clock:                            dsig.NewFakeClockAt(s.now()),
	}, nil
}

// ParseIdPMetadata reads an identity provider's metadata: an
// EntityDescriptor, or the first entity with an IDPSSODescriptor of an
// EntitiesDescriptor.
func ParseIdPMetadata(doc string) (*saml.EntityDescriptor, error) {
	var one saml.EntityDescriptor
	if err := xml.Unmarshal([]byte(doc), &one); err == nil {
		if len(one.IDPSSODescriptors) == 0 {
			return nil, errors.New("the metadata has no IDPSSODescriptor")
		}
		return &one, nil
	}
	var many saml.EntitiesDescriptor
	if err := xml.Unmarshal([]byte(doc), &many); err != nil {
		return nil, fmt.Errorf("not SAML metadata: %w", err)
	}
	for i := range many.EntityDescriptors {
		if len(many.EntityDescriptors[i].IDPSSODescriptors) > 0 {
			return &many.EntityDescriptors[i], nil
		}
	}
	return nil, errors.New("the metadata has no IDPSSODescriptor")
}

// FetchIdPMetadata reads an identity provider's metadata from its URL,
// to store with the settings.
func FetchIdPMetadata(ctx context.Context, metadataURL string) (string, error) {
	bad := func(problem string) error {
		return &storage.ValidationError{Field: "saml_metadata_url", Problem: problem}
	}
	u, err := url.Parse(metadataURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", bad(fmt.Sprintf("%q is not an absolute http(s) URL", metadataURL))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", bad(err.Error())
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", bad(fmt.Sprintf("cannot be read: %v", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", bad(fmt.Sprintf("answered status %d", resp.StatusCode))
	}
	if _, err := ParseIdPMetadata(string(body)); err != nil {
		return "", bad(err.Error())
	}
	return string(body), nil
}

// replayCache keeps the ids of accepted assertions in the store until they
// expire.
type replayCache struct {
	ctx   context.Context
	store Store
}

func (r replayCache) Consume(id string, until time.Time) error {
	err := r.store.ConsumeAssertion(r.ctx, id, until)
	if errors.Is(err, storage.ErrConflict) {
		return saml.ErrAssertionReplayed
	}
	return err
}

func (s *Service) beginSAML(st storage.SSOSettings, f *flow) (string, error) {
	sp, err := s.serviceProvider(context.Background(), st)
	if err != nil {
		return "", err
	}
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		return "", refused("the identity provider's metadata offers no redirect login: %v", err)
	}
	f.request = req.ID
	u, err := req.Redirect(f.state, sp)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// SAMLMetadata is the organisation's service provider metadata, to paste
// into the identity provider.
func (s *Service) SAMLMetadata(ctx context.Context, orgID string) ([]byte, error) {
	st, err := s.settings(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if st.SAML == nil {
		return nil, refused("organisation %s has no SAML provider", orgID)
	}
	sp, err := s.serviceProvider(ctx, st)
	if err != nil {
		return nil, err
	}
	md := sp.Metadata()
	// No encryption key is published: the IdP then sends the assertion
	// in the clear inside the TLS connection, signed as ever.
	for i := range md.SPSSODescriptors {
		d := &md.SPSSODescriptors[i]
		keep := d.KeyDescriptors[:0]
		for _, k := range d.KeyDescriptors {
			if k.Use != "encryption" {
				keep = append(keep, k)
			}
		}
		d.KeyDescriptors = keep
	}
	return xml.MarshalIndent(md, "", "  ")
}

// FinishSAML checks a posted SAMLResponse: the signature of the IdP
// (required on the assertion), audience, recipient, NotOnOrAfter,
// InResponseTo of the request this browser's flow sent, and that the
// assertion was never used before; then provisions the user. A response
// the IdP started (no flow) is accepted only when the settings allow
// IdP-initiated logins.
func (s *Service) FinishSAML(ctx context.Context, orgID, flowID, samlResponse, relayState string) (Login, error) {
	st, err := s.settings(ctx, orgID)
	if err != nil {
		return Login{}, err
	}
	if st.SAML == nil {
		return Login{}, refused("organisation %s has no SAML provider", orgID)
	}
	var requests []string
	next := ""
	if flowID != "" || !st.SAML.AllowIdPInitiated {
		f, err := s.take(flowID, orgID)
		if err != nil {
			return Login{}, err
		}
		if relayState != f.state {
			return Login{}, refused("the relay state returned by the identity provider does not match the login started in this browser")
		}
		requests, next = []string{f.request}, f.next
	}
	sp, err := s.serviceProvider(ctx, st)
	if err != nil {
		return Login{}, err
	}
	raw, err := base64.StdEncoding.DecodeString(samlResponse)
	if err != nil {
		return Login{}, refused("the SAMLResponse is not base64")
	}
	a, err := sp.ParseXMLResponse(raw, requests, sp.AcsURL)
	if err != nil {
		return Login{}, refused("SAML response refused: %s", samlReason(err))
	}
	if a.Signature == nil {
		return Login{}, refused("SAML response refused: the assertion is not signed")
	}
	u, err := s.provision(ctx, st, samlIdentity(a, st.SAML.GroupsAttribute))
	link := storage.SSOLink{OrgID: orgID, Protocol: "saml"}
	if a.Subject != nil && a.Subject.NameID != nil {
		link.NameID = a.Subject.NameID.Value
	}
	for _, as := range a.AuthnStatements {
		link.SessionIndex = as.SessionIndex
	}
	return Login{User: u, Next: next, Link: link}, err
}

// samlReason is the cause crewjam/saml keeps behind its generic error.
func samlReason(err error) string {
	var ire *saml.InvalidResponseError
	if errors.As(err, &ire) && ire.PrivateErr != nil {
		return ire.PrivateErr.Error()
	}
	return err.Error()
}

// samlIdentity reads the subject and the usual attributes.
func samlIdentity(a *saml.Assertion, groupsAttr string) Identity {
	id := Identity{Issuer: a.Issuer.Value}
	if a.Subject != nil && a.Subject.NameID != nil {
		id.Subject = a.Subject.NameID.Value
	}
	names := map[string]*string{
		"email": &id.Email, "mail": &id.Email, "urn:oid:0.9.2342.19200300.100.1.3": &id.Email,
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress": &id.Email,
		"name": &id.Name, "displayName": &id.Name, "cn": &id.Name, "urn:oid:2.5.4.3": &id.Name,
		"urn:oid:2.16.840.1.113730.3.1.241": &id.Name,
	}
	groupNames := []string{"groups", "memberOf", "eduPersonAffiliation", "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"}
	if groupsAttr != "" {
		groupNames = []string{groupsAttr}
	}
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			for _, n := range []string{attr.Name, attr.FriendlyName} {
				if p, ok := names[n]; ok && *p == "" && len(attr.Values) > 0 {
					*p = attr.Values[0].Value
				}
				if n != "" && containsFold(groupNames, n) {
					for _, v := range attr.Values {
						id.Groups = append(id.Groups, v.Value)
					}
				}
			}
		}
	}
	if id.Email == "" && strings.Contains(id.Subject, "@") {
		id.Email = id.Subject
	}
	return id
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// NewSPKeyPair makes the service provider's signing key and self-signed
// certificate (PEM), valid ten years.
func NewSPKeyPair(commonName string) (keyPEM, certPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", "", err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	keyDER := x509.MarshalPKCS1PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: keyDER})),
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), nil
}
