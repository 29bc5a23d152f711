package policy

import "strings"

// Permission is one entry of the catalogue: an id that policies grant and
// code checks, with what the backoffice shows about it.
type Permission struct {
	ID         string // casbin object, e.g. "xa_ocall_calllog_call-logs"
	Area       string // e.g. "Outside the call"
	FeatureSet string // e.g. "Call logs"
	Meaning    string // one line for people editing policies
}

// Permission ids of SPEC.md section 5, spelled exactly as documented there.
const (
	HomeDashboardAccess  = "home_dashboard_access"
	XAssist              = "xa_xassist"
	OutsideTheCall       = "xa_ocall_outside-the-call"
	XAssistDashboard     = "xa_ocall_xassist-dashboard"
	CreateConference     = "xa_ocall_create_conference"
	ContactList          = "xa_ocall_contact_list_contact-list"
	InviteGuestUsers     = "xa_ocall_contact_list_invite-guestusers"
	CallLogs             = "xa_ocall_calllog_call-logs"
	SeeOwnCallLogs       = "xa_ocall_calllog_see-own-call-logs"
	SeeAllCallLogs       = "xa_ocall_calllog_see-all-call-logs"
	DownloadMedia        = "xa_ocall_calllog_download-media"
	DeleteMedia          = "xa_ocall_calllog_delete-media"
	ExportCallLog        = "xa_ocall_calllog_export-call-log"
	ServiceReports       = "xa_ocall_reports_service-reports"
	CreateServiceReport  = "xa_ocall_create-service-report"
	ReadServiceReports   = "xa_ocall_read-service-reports"
	EditServiceReports   = "xa_ocall_edit-service-reports"
	DeleteServiceReports = "xa_ocall_delete-service-reports"
	PhonebookEditor      = "xa_ocall_phonebook-editor"
)

// In-call permission ids, named in the style of the SPEC catalogue.
const (
	CallJoin               = "xa_icall_join"
	CallPublishCamera      = "xa_icall_publish-camera"
	CallPublishMicrophone  = "xa_icall_publish-microphone"
	CallChat               = "xa_icall_chat"
	CallSnapshotAnnotate   = "xa_icall_snapshot-annotate"
	CallShareFiles         = "xa_icall_share-files"
	CallScreenShare        = "xa_icall_screen-share"
	CallRecord             = "xa_icall_record"
	CallInviteParticipants = "xa_icall_invite-participants"
	CallEndForAll          = "xa_icall_end-call-for-all"
	CallSitIn              = "xa_icall_sit-in"
	CallTakeOver           = "xa_icall_take-over"
	CallTransfer           = "xa_icall_transfer"
	CallMonitorScreen      = "xa_icall_monitor-screen"
	CallCoach              = "xa_icall_coach"
)

// Supervision permission ids (SPEC.md section 4).
const (
	TeamDashboard = "xa_sup_team-dashboard"
	AutoAssign    = "xa_sup_auto-assign"
	ManageQueues  = "xa_sup_manage-queues"
)

// Administration permission ids.
const (
	AdminMembers    = "admin_organisation_members"
	AdminTeams      = "admin_organisation_teams"
	AdminLabels     = "admin_organisation_labels"
	AdminPolicies   = "admin_policies"
	AdminSSO        = "admin_sso"
	AdminFederation = "admin_federation"
	AdminAuditLog   = "admin_audit-log"
	AdminAPITokens  = "admin_api-tokens"
	AdminOrgTokens  = "admin_organisation_api-tokens"
)

// Areas of the catalogue.
const (
	AreaStartPage      = "Start page"
	AreaAssist         = "Assist"
	AreaOutside        = "Outside the call"
	AreaInCall         = "In the call"
	AreaSupervision    = "Supervision"
	AreaAdministration = "Administration"
)

// catalogue is every permission in the order the backoffice lists them.
// It is a function rather than a package variable so that no caller can
// change the table another caller sees.
func catalogue() []Permission {
	return []Permission{
		{HomeDashboardAccess, AreaStartPage, "Dashboard", "access the dashboard on the start page"},
		{XAssist, AreaAssist, "Access", "access the assistance product"},
		{OutsideTheCall, AreaOutside, "Access", "use functions outside a call"},
		{XAssistDashboard, AreaOutside, "Dashboard", "access the assistance dashboard"},
		{CreateConference, AreaOutside, "Contact list", "create conferences"},
		{ContactList, AreaOutside, "Contact list", "access the contact list and start calls"},
		{InviteGuestUsers, AreaOutside, "Contact list", "invite guest users"},
		{CallLogs, AreaOutside, "Call logs", "access call logs"},
		{SeeOwnCallLogs, AreaOutside, "Call logs", "see own call logs"},
		{SeeAllCallLogs, AreaOutside, "Call logs", "see all call logs"},
		{DownloadMedia, AreaOutside, "Call logs", "download media from a call log"},
		{DeleteMedia, AreaOutside, "Call logs", "delete media from a call log"},
		{ExportCallLog, AreaOutside, "Call logs", "export a call log"},
		{ServiceReports, AreaOutside, "Service reports", "access service reports"},
		{CreateServiceReport, AreaOutside, "Service reports", "create service reports"},
		{ReadServiceReports, AreaOutside, "Service reports", "read service reports"},
		{EditServiceReports, AreaOutside, "Service reports", "edit service reports"},
		{DeleteServiceReports, AreaOutside, "Service reports", "delete service reports"},
		{PhonebookEditor, AreaOutside, "Phonebook", "edit the phonebook"},

		{CallJoin, AreaInCall, "Access", "join a call"},
		{CallPublishCamera, AreaInCall, "Media", "publish the camera"},
		{CallPublishMicrophone, AreaInCall, "Media", "publish the microphone"},
		{CallChat, AreaInCall, "Chat", "chat in the call"},
		{CallSnapshotAnnotate, AreaInCall, "Snapshots", "freeze a frame, take a snapshot and draw on it; use the live pointer"},
		{CallShareFiles, AreaInCall, "Files", "share files and photos into the call"},
		{CallScreenShare, AreaInCall, "Media", "share the screen from a desktop browser"},
		{CallRecord, AreaInCall, "Recording", "start and stop the server-side recording"},
		{CallInviteParticipants, AreaInCall, "Participants", "invite others into the call"},
		{CallEndForAll, AreaInCall, "Participants", "end the call for every participant"},
		{CallSitIn, AreaInCall, "Supervision", "sit in on a team member's call without being visible to the customer"},
		{CallTakeOver, AreaInCall, "Supervision", "take a team member's session over"},
		{CallTransfer, AreaInCall, "Supervision", "transfer a session to another member or team"},
		{CallMonitorScreen, AreaInCall, "Supervision", "monitor a team member's screen, also outside a call"},
		{CallCoach, AreaInCall, "Supervision", "coach a team member while sitting in: speak to the member only, unheard by the guest"},

		{TeamDashboard, AreaSupervision, "Team dashboard", "see the live team dashboard"},
		{AutoAssign, AreaSupervision, "Auto-assign", "be auto-assigned service requests, and switch it off"},
		{ManageQueues, AreaSupervision, "Team queues", "set how a team's queue offers service requests, and switch members' auto-assign"},

		{AdminMembers, AreaAdministration, "Organisation", "manage users: create, edit, deactivate, assign roles"},
		{AdminTeams, AreaAdministration, "Organisation", "manage teams and their members, leads and managers"},
		{AdminLabels, AreaAdministration, "Organisation", "manage label groups and labels, session outcomes and service-report fields"},
		{AdminPolicies, AreaAdministration, "Policies", "read and edit permission policies"},
		{AdminSSO, AreaAdministration, "SSO", "configure SAML and OIDC sign-on and role mapping"},
		{AdminFederation, AreaAdministration, "Federation", "manage sites and the federation of nodes"},
		{AdminAuditLog, AreaAdministration, "Audit log", "read the audit log"},
		{AdminAPITokens, AreaAdministration, "API tokens", "create API tokens for oneself, for the CLI and automation"},
		{AdminOrgTokens, AreaAdministration, "API tokens", "list and revoke the API tokens of every user of the organisation"},
	}
}

// All returns the catalogue in catalogue order. The slice is a fresh copy.
func All() []Permission { return catalogue() }

// IDs returns every permission id in catalogue order.
func IDs() []string {
	all := catalogue()
	ids := make([]string, len(all))
	for i, p := range all {
		ids[i] = p.ID
	}
	return ids
}

// Lookup returns the permission with exactly this id. Aliases are not
// resolved here; see Canonical.
func Lookup(id string) (Permission, bool) {
	for _, p := range catalogue() {
		if p.ID == id {
			return p, true
		}
	}
	return Permission{}, false
}

// The source table of SPEC.md spells the call-log ids "xa_ocalLcalllog_..."
// (a typo). Imported policies may carry it; Canonical rewrites it.
const (
	aliasPrefix     = "xa_ocalLcalllog_"
	canonicalPrefix = "xa_ocall_calllog_"
)

// Canonical returns the catalogue spelling of id and whether id was an
// alias. It does not check that the result exists in the catalogue.
func Canonical(id string) (canonical string, alias bool) {
	if rest, ok := strings.CutPrefix(id, aliasPrefix); ok {
		return canonicalPrefix + rest, true
	}
	return id, false
}

// catalogueIndex maps each id to its position in the catalogue, for
// sorting in catalogue order.
func catalogueIndex() map[string]int {
	all := catalogue()
	idx := make(map[string]int, len(all))
	for i, p := range all {
		idx[p.ID] = i
	}
	return idx
}
