package signal

// In-call permission ids the SFU checks. They mirror the xa_icall_ ids of
// siteline/policy's catalogue (media may not import policy); a test in node
// checks that both lists agree.
const (
	PermJoin          = "xa_icall_join"
	PermPublishCamera = "xa_icall_publish-camera"
	PermPublishMic    = "xa_icall_publish-microphone"
	PermChat          = "xa_icall_chat"
	PermScreenShare   = "xa_icall_screen-share"
	PermEndForAll     = "xa_icall_end-call-for-all"
	PermSitIn         = "xa_icall_sit-in"
	PermCoach         = "xa_icall_coach"
	PermAnnotate      = "xa_icall_snapshot-annotate"
	PermShareFiles    = "xa_icall_share-files"
	PermRecord        = "xa_icall_record"
)

// Permissions lists every permission id above, for the comparison with the
// policy catalogue.
func Permissions() []string {
	return []string{
		PermJoin, PermPublishCamera, PermPublishMic, PermChat,
		PermScreenShare, PermEndForAll, PermSitIn, PermCoach,
		PermAnnotate, PermShareFiles, PermRecord,
	}
}
