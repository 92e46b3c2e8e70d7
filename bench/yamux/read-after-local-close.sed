# hashicorp/yamux#131 in Stream.Read: a stream whose local side closed its writes keeps reading what the peer sends.
# The Read switch begins 'case streamLocalClose: fallthrough'; take those two lines out of Read only.
/^func (s \*Stream) Read(/,/^}/ {
    /^\tcase streamLocalClose:$/ {
        N
        /\n\t\tfallthrough$/d
    }
}
